/** A request the server cannot answer as asked: its HTTP status and a message saying what was received and what was expected. */
export class RequestError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    /** For 503: when to come back (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../errors';
import type { ParseReply, ParseRequest } from './body-parse-worker';
import { parsePredictBody, type InstanceLimits, type ParsedBody } from './instance-arrays';
import { RequestError } from './request-error';
import type { WorkerPriority } from './thread-priority';
import { terminateWorker } from './worker-version-model';

/**
 * Bodies up to this size are parsed where they arrive: a 32x32 pixel array (~12 KB) or a b64 photo
 * thumbnail costs well under a millisecond, less than the trip to a worker, and must not wait behind
 * a 16 MB body being parsed there.
 */
const INLINE_PARSE_BYTES = 64 * 1024;

interface Parser {
  worker: Worker;
  pending: Map<number, { resolve: (parsed: ParsedBody) => void; reject: (error: Error) => void }>;
}

/**
 * Worker threads that parse large :predict bodies (body-parse-worker.ts): JSON.parse of a large body
 * and the checks of its pixel arrays run there; the thread answering HTTP gets typed arrays back. Each
 * body goes to the parser with the fewest in hand; a parser that dies fails its bodies and is
 * started again for the next one. Without `priority` parsers run at the priority of the thread starting them.
 */
export class BodyParsers {
  private readonly parsers: (Parser | undefined)[];
  private nextId = 0;
  private closed = false;

  constructor(
    count: number,
    private readonly priority?: WorkerPriority,
  ) {
    this.parsers = new Array(Math.max(1, count)).fill(undefined);
  }

  parse(body: Buffer, size: number, limits: InstanceLimits): Promise<ParsedBody> {
    if (this.closed) return Promise.reject(new RequestError(503, 'The server is shutting down.'));
    if (body.byteLength <= INLINE_PARSE_BYTES) {
      try {
        return Promise.resolve(parsePredictBody(body, size, limits));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const parser = this.pick();
    const id = this.nextId++;
    // The worker gets the body's bytes; a Buffer from the shared pool is copied, a large one moved.
    const bytes = body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
    return new Promise((resolve, reject) => {
      parser.pending.set(id, { resolve, reject });
      const request: ParseRequest = { id, body: bytes, size, maxInstances: limits.maxInstances };
      parser.worker.postMessage(request, [bytes.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.parsers.map((parser) => parser && terminateWorker(parser.worker)));
  }

  private pick(): Parser {
    let best = 0;
    for (let i = 0; i < this.parsers.length; i++) {
      const parser = this.parsers[i];
      if (!parser) {
        best = i;
        break;
      }
      if (parser.pending.size < this.parsers[best]!.pending.size) best = i;
    }
    return (this.parsers[best] ??= this.start(best));
  }

  private start(slot: number): Parser {
    const script = path.join(__dirname, 'body-parse-worker.js');
    if (!fs.existsSync(script)) throw new RuntimeFailure('The body parser script is missing: run npm run build.');
    const parser: Parser = { worker: new Worker(script, { workerData: { nice: this.priority?.steps ?? 0 } }), pending: new Map() };
    parser.worker.unref();
    parser.worker.on('message', (reply: ParseReply) => {
      if ('priorityFailure' in reply) return this.priority?.failed(reply.priorityFailure);
      const waiting = parser.pending.get(reply.id);
      parser.pending.delete(reply.id);
      if (!waiting) return;
      if ('parsed' in reply) waiting.resolve(reply.parsed);
      else waiting.reject(new RequestError(reply.status, reply.message));
    });
    const fail = (error: Error) => {
      if (this.parsers[slot] === parser) this.parsers[slot] = undefined;
      for (const waiting of parser.pending.values()) waiting.reject(error);
      parser.pending.clear();
    };
    parser.worker.on('error', (error) => fail(new RuntimeFailure(`the body parser crashed: ${error.message}`)));
    parser.worker.on('exit', (code) => fail(new RuntimeFailure(`the body parser exited (code ${code})`)));
    return parser;
  }
}

/**
 * Worker thread that parses :predict bodies (body-parsers.ts), so that a 16 MB JSON body of pixel
 * arrays (millions of small arrays to build, check and collect) never stalls the thread answering HTTP.
 *
 * Protocol. workerData: {nice}. The worker lowers its priority by `nice` steps, posting {priorityFailure}
 * if it cannot; then each {id, body, size, maxInstances} (body transferred) is answered with
 * {id, parsed} (typed arrays transferred) or {id, status, message}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parsePredictBody, type ParsedBody } from './instance-arrays';
import { RequestError } from './request-error';
import { lowerThreadPriority, nameThread } from './thread-priority';

export interface ParseRequest {
  id: number;
  body: Uint8Array;
  size: number;
  maxInstances: number;
}

export type ParseReply = { id: number; parsed: ParsedBody } | { id: number; status: number; message: string } | { priorityFailure: string };

nameThread('serve-parse');
const priorityFailure = lowerThreadPriority((workerData as { nice?: number } | null)?.nice ?? 0);
if (priorityFailure) parentPort?.postMessage({ priorityFailure } satisfies ParseReply);

parentPort?.on('message', (request: ParseRequest) => {
  let reply: ParseReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const parsed = parsePredictBody(request.body, request.size, { maxInstances: request.maxInstances });
    reply = { id: request.id, parsed };
    transfer = parsed.instances.map((instance) => ('pixels' in instance ? instance.pixels.buffer : instance.encoded.buffer) as ArrayBuffer);
  } catch (error) {
    const status = error instanceof RequestError ? error.statusCode : 500;
    reply = { id: request.id, status, message: (error as Error).message };
  }
  parentPort!.postMessage(reply, transfer);
});

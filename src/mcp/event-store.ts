import type { EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';

/** Options of {@link createSessionEventStore}. */
export interface SessionEventStoreOptions {
  /** Most events kept for replay. Default 200. */
  maxEvents?: number;
  /** Most bytes of serialized events kept for replay. Default 512 KiB. */
  maxBytes?: number;
}

interface StoredEvent {
  id: string;
  streamId: string;
  message: JSONRPCMessage;
  bytes: number;
}

/**
 * A bounded event store for one 2025-era session, so that a client whose SSE
 * stream dropped can resume it with `Last-Event-ID`. Each session gets its own
 * store (stream ids such as the GET stream's repeat in every session); the
 * oldest events are dropped past `maxEvents` or `maxBytes`, and a resume from
 * a dropped event replays nothing rather than the wrong stream.
 */
export function createSessionEventStore(options: SessionEventStoreOptions = {}): EventStore {
  const { maxEvents = 200, maxBytes = 512 * 1024 } = options;
  const events: StoredEvent[] = [];
  let bytes = 0;
  let sequence = 0;

  const find = (eventId: string): number => {
    // Ids are `<sequence>` in increasing order: a binary search would do, but the window is small.
    for (let index = events.length - 1; index >= 0; index -= 1) if (events[index]!.id === eventId) return index;
    return -1;
  };

  return {
    async storeEvent(streamId, message) {
      sequence += 1;
      const id = String(sequence);
      const size = JSON.stringify(message).length + streamId.length;
      events.push({ id, streamId, message, bytes: size });
      bytes += size;
      while (events.length > maxEvents || (bytes > maxBytes && events.length > 1)) bytes -= events.shift()!.bytes;
      return id;
    },
    async getStreamIdForEventId(eventId) {
      const index = find(eventId);
      return index < 0 ? undefined : events[index]!.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const index = find(lastEventId);
      if (index < 0) return '';
      const { streamId } = events[index]!;
      for (const event of events.slice(index + 1)) if (event.streamId === streamId) await send(event.id, event.message);
      return streamId;
    },
  };
}

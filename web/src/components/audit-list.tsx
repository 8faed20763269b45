/** Audit events as a table: time, actor, action, subject, and the event's data. */
import type { AuditEvent } from '../api/registry';
import { formatTime, shortDigest } from '../lib/format';

function describe(data: unknown): string {
  if (data === null || data === undefined) return '';
  if (typeof data !== 'object') return String(data);
  return Object.entries(data as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

export function AuditTable({ events }: { events: readonly AuditEvent[] }) {
  return (
    <table className="data audit-table">
      <thead>
        <tr>
          <th scope="col" className="num">
            #
          </th>
          <th scope="col">Time</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Subject</th>
          <th scope="col">Details</th>
          <th scope="col">Hash</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.seq} data-seq={e.seq}>
            <td className="num">{e.seq}</td>
            <td>{formatTime(e.time)}</td>
            <td>{e.actor}</td>
            <td>
              <code>{e.action}</code>
            </td>
            <td>{e.subject}</td>
            <td className="clip details">{describe(e.data)}</td>
            <td>
              <code title={e.hash}>{shortDigest(e.hash)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

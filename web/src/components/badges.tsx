/** Small labels: aliases, stages, approval and status of a version. */
import type { ModelVersion } from '../api/registry';

export function AliasBadges({ aliases }: { aliases: readonly string[] }) {
  return (
    <>
      {aliases.map((a) => (
        <span key={a} className="badge alias" title={`alias ${a}`}>
          @{a}
        </span>
      ))}
    </>
  );
}

export function StageBadge({ stage }: { stage: ModelVersion['stage'] }) {
  if (stage === 'None') return null;
  return <span className={`badge stage stage-${stage.toLowerCase()}`}>{stage}</span>;
}

export function ApprovalBadge({ state }: { state: ModelVersion['approval']['state'] }) {
  return <span className={`badge approval approval-${state}`}>{state}</span>;
}

export function StatusBadge({ status }: { status: ModelVersion['status'] }) {
  if (status === 'READY') return <span className="badge status-ready">ready</span>;
  return <span className={`badge status-${status.toLowerCase()}`}>{status.toLowerCase()}</span>;
}

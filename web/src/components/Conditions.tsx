/**
 * What the provisioner reports when it needs saying: a degraded workspace
 * (a failing reconcile, a plan below current usage) or one not ready.
 */
export function Conditions({ conditions }: { conditions: { type: string; status: boolean; reason: string; message: string }[] }) {
  const shown = conditions.filter((c) => (c.type === "Degraded" && c.status) || (c.type === "Ready" && !c.status));
  if (shown.length === 0) return null;
  return (
    <div className="banner warn" role="status" data-testid="conditions">
      {shown.map((c) => (
        <p key={c.type}>
          <strong>{c.reason}</strong>: {c.message}
        </p>
      ))}
    </div>
  );
}

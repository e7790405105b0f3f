// Where a page sits: organisation, workspace, then the page's own trail.
import { Link } from "../lib/index";

export function Crumbs({ items }: { items: { to?: string; label: string }[] }) {
  return (
    <nav aria-label="Breadcrumbs" className="crumbs">
      <ol>
        {items.map((item, i) => (
          <li key={`${item.label}-${i}`}>{item.to && i < items.length - 1 ? <Link to={item.to}>{item.label}</Link> : <span aria-current={i === items.length - 1 ? "page" : undefined}>{item.label}</span>}</li>
        ))}
      </ol>
    </nav>
  );
}

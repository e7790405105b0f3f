import type { ReactNode } from "react";
import { Link, navigate, useLocation } from "../lib/index";
import { useManages, useSession } from "../session";

/** The frame of signed-in pages: brand, organisation switcher, sections. */
export function Layout({ org, children }: { org?: string; children: ReactNode }) {
  const session = useSession();
  const { path } = useLocation();
  const orgs = session.viewer?.organizations.edges.map((e) => e.node) ?? [];
  const admin = useManages(org);
  const sections = org
    ? [
        { to: `/orgs/${org}`, label: "Workspaces" },
        { to: `/orgs/${org}/members`, label: "Members", admin: true },
        { to: `/orgs/${org}/teams`, label: "Teams" },
        { to: `/orgs/${org}/tokens`, label: "API tokens" },
        { to: `/orgs/${org}/sso`, label: "Single sign-on", admin: true },
        { to: `/orgs/${org}/audit`, label: "Audit log", admin: true },
        { to: `/orgs/${org}/billing`, label: "Billing", admin: true },
      ].filter((s) => !s.admin || admin)
    : [];
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Strata
        </Link>
        {orgs.length > 0 ? (
          <label className="org-switcher">
            <span className="visually-hidden">Organisation</span>
            <select
              value={org ?? ""}
              onChange={(e) => navigate(e.target.value === "+new" ? "/orgs/new" : `/orgs/${e.target.value}`)}
            >
              {org ? null : <option value="">Choose an organisation</option>}
              {orgs.map((o) => (
                <option key={o.slug} value={o.slug}>
                  {o.name || o.slug}
                </option>
              ))}
              <option value="+new">+ New organisation</option>
            </select>
          </label>
        ) : null}
        <nav aria-label="Sections">
          {sections.map((s) => (
            <Link key={s.to} to={s.to} aria-current={path === s.to ? "page" : undefined}>
              {s.label}
            </Link>
          ))}
        </nav>
        <span className="who">{session.viewer?.email}</span>
        <button
          type="button"
          className="secondary"
          onClick={async () => {
            await session.logOut();
            navigate("/login");
          }}
        >
          Log out
        </button>
      </header>
      <main id="main">{children}</main>
    </div>
  );
}

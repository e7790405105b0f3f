import { useEffect } from "react";
import { ErrorBoundary } from "./components/ui";
import { loginPath, match, navigate, useLocation } from "./lib/index";
import { AcceptInvitationPage, CheckEmailPage, DevicePage, LogInPage, ResetPasswordPage, SignUpPage, VerifyEmailPage } from "./pages/Auth";
import { BillingPage } from "./pages/Billing";
import { AuditPage, CreateOrganizationPage, MembersPage, TokensPage, WorkspacesPage } from "./pages/Org";
import { SsoPage } from "./pages/Sso";
import { TeamsPage } from "./pages/Teams";
import { FilesPage } from "./pages/workspace/FilesPage";
import { JobPage } from "./pages/workspace/JobPage";
import { PipelinePage } from "./pages/workspace/PipelinePage";
import { RepoPage } from "./pages/workspace/RepoPage";
import { WorkspacePage } from "./pages/workspace/WorkspacePage";
import { useSession } from "./session";

/** Pages anyone may open. */
const PUBLIC: Record<string, () => React.ReactElement> = {
  "/login": () => <LogInPage />,
  "/signup": () => <SignUpPage />,
  "/check-email": () => <CheckEmailPage />,
  "/verify-email": () => <VerifyEmailPage />,
  "/reset-password": () => <ResetPasswordPage />,
  "/accept-invitation": () => <AcceptInvitationPage />,
};

type Params = Record<string, string>;

/** Pages for people logged in, most specific first. */
const PRIVATE: [string, (p: Params) => React.ReactElement][] = [
  ["/device", () => <DevicePage />],
  ["/orgs/new", () => <CreateOrganizationPage />],
  ["/orgs/:org/members", (p) => <MembersPage org={p.org} />],
  ["/orgs/:org/teams", (p) => <TeamsPage org={p.org} />],
  ["/orgs/:org/sso", (p) => <SsoPage org={p.org} />],
  ["/orgs/:org/tokens", (p) => <TokensPage org={p.org} />],
  ["/orgs/:org/audit", (p) => <AuditPage org={p.org} />],
  ["/orgs/:org/billing", (p) => <BillingPage org={p.org} />],
  ["/orgs/:org", (p) => <WorkspacesPage org={p.org} />],
  ["/w/:org/:ws/pipelines/:pipeline/jobs/:job", (p) => <JobPage org={p.org} ws={p.ws} pipeline={p.pipeline} job={p.job} />],
  ["/w/:org/:ws/pipelines/:pipeline", (p) => <PipelinePage org={p.org} ws={p.ws} pipeline={p.pipeline} />],
  ["/w/:org/:ws/repos/:repo/files/:ref/*", (p) => <FilesPage org={p.org} ws={p.ws} repo={p.repo} reference={p.ref} path={p["*"]} />],
  ["/w/:org/:ws/repos/:repo/files/:ref", (p) => <FilesPage org={p.org} ws={p.ws} repo={p.repo} reference={p.ref} path="" />],
  ["/w/:org/:ws/repos/:repo", (p) => <RepoPage org={p.org} ws={p.ws} repo={p.repo} />],
  ["/w/:org/:ws", (p) => <WorkspacePage org={p.org} ws={p.ws} />],
];

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

export function App() {
  const { path } = useLocation();
  const session = useSession();
  const page = PUBLIC[path];
  if (page) return <ErrorBoundary key={path}>{page()}</ErrorBoundary>;
  if (session.status === "loading") return <p className="loading">Loading…</p>;
  // Back to the page asked for once logged in (with a password or through SSO).
  if (session.status === "anonymous") return <Redirect to={loginPath(path + location.search)} />;
  if (path === "/") {
    const first = session.viewer?.organizations.edges[0]?.node.slug;
    return <Redirect to={first ? `/orgs/${first}` : "/orgs/new"} />;
  }
  for (const [pattern, render] of PRIVATE) {
    const params = match(pattern, path);
    if (params) return <ErrorBoundary key={path}>{render(params)}</ErrorBoundary>;
  }
  return (
    <main id="main" className="auth">
      <h1>Page not found</h1>
      <p>
        <a href="/">Back to your organisations</a>
      </p>
    </main>
  );
}

// Single sign-on in the console: home-realm discovery on the login page,
// where a login returns to, and how connections, domains, device codes
// and teams are written. All but the hook and `discoverSso` are pure (no
// window at import), so unit-tested.
import { useEffect, useState } from "react";
import { ago } from "./format";

/** Asked for besides `openid` when the field is left empty (the server's default too). */
export const DEFAULT_SCOPES = ["email", "profile", "groups"];

/** The domain of a complete-looking address, lower-cased; null while it is being typed. */
export function emailDomain(email: string): string | null {
  const text = email.trim();
  const at = text.lastIndexOf("@");
  if (at < 1 || /\s/.test(text)) return null;
  const domain = text.slice(at + 1).toLowerCase().replace(/\.$/, "");
  const labels = domain.split(".");
  if (labels.length < 2 || labels.some((l) => l === "" || l.includes("@"))) return null;
  return labels[labels.length - 1].length >= 2 ? domain : null;
}

export type LoginMethod = "password" | "sso" | "checking";

/** How the typed address logs in, from what discovery answered for each domain. */
export function loginMethod(email: string, known: Readonly<Record<string, boolean>>): LoginMethod {
  const domain = emailDomain(email);
  if (!domain) return "password";
  if (!(domain in known)) return "checking";
  return known[domain] ? "sso" : "password";
}

/** A console path to go back to after logging in (the server's rules); `/` otherwise. */
export function safeReturnPath(raw: string | null | undefined): string {
  const path = (raw ?? "").trim();
  const safe = path.startsWith("/") && !path.startsWith("//") && !path.includes("\\") && path.length <= 2000;
  if (!safe || path === "/login" || path.startsWith("/login?")) return "/";
  return path;
}

/** The login page, returning to `returnTo` afterwards; `sso` asks for the email only. */
export function loginPath(returnTo: string, sso = false): string {
  const params = new URLSearchParams();
  if (sso) params.set("sso", "1");
  const next = safeReturnPath(returnTo);
  if (next !== "/") params.set("next", next);
  const query = params.toString();
  return query ? `/login?${query}` : "/login";
}

/** Where the browser goes to log in through the email's identity provider. */
export function ssoStartUrl(email: string, returnTo: string): string {
  const params = new URLSearchParams({ email: email.trim(), return_to: safeReturnPath(returnTo) });
  return `/auth/sso/start?${params.toString()}`;
}

/** The organisation a console path is about (`/orgs/acme/…`, `/w/acme/…`), or null. */
export function orgOfPath(path: string): string | null {
  const [first, second] = path.split("/").filter(Boolean);
  if (!second || (first !== "orgs" && first !== "w") || (first === "orgs" && second === "new")) return null;
  try {
    return decodeURIComponent(second);
  } catch {
    return null;
  }
}

/** Where the browser goes to log in through an organisation's identity provider. */
export function ssoOrgStartUrl(org: string, returnTo: string): string {
  const params = new URLSearchParams({ org, return_to: safeReturnPath(returnTo) });
  return `/auth/sso/start?${params.toString()}`;
}

/** Whether this email's domain logs in with single sign-on; false when unsure. */
export async function discoverSso(email: string): Promise<boolean> {
  try {
    const response = await fetch(`/auth/sso/discover?${new URLSearchParams({ email: email.trim() }).toString()}`);
    if (!response.ok) return false;
    return ((await response.json()) as { sso?: boolean }).sso === true;
  } catch {
    return false;
  }
}

/** The login method of the typed address, asking the server once per domain after a pause. */
export function useHomeRealm(email: string): LoginMethod {
  const [known, setKnown] = useState<Record<string, boolean>>({});
  const domain = emailDomain(email);
  const asked = domain !== null && domain in known;
  useEffect(() => {
    if (!domain || asked) return;
    let alive = true;
    const timer = setTimeout(async () => {
      const sso = await discoverSso(email);
      if (alive) setKnown((k) => ({ ...k, [domain]: sso }));
    }, 300);
    return () => {
      alive = false;
      clearTimeout(timer);
    };
    // Asked per domain, not per keystroke of the local part.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [domain, asked]);
  return loginMethod(email, known);
}

/** The scopes field as a list: split on spaces or commas, `openid` implied, repeats dropped. */
export function parseScopes(text: string): string[] {
  const scopes = [...new Set(text.split(/[\s,]+/).filter((s) => s !== "" && s !== "openid"))];
  return scopes.length > 0 ? scopes : DEFAULT_SCOPES;
}

export interface ConnectionFields {
  issuer: string;
  clientId: string;
  /** Write-only: empty keeps the stored one. */
  clientSecret: string;
  scopes: string;
  emailClaim: string;
  nameClaim: string;
  groupsClaim: string;
}

/** The `configureSso` input of the connection form; empty optional fields are left out. */
export function connectionInput(organization: string, f: ConnectionFields) {
  const optional = (value: string) => (value.trim() === "" ? null : value.trim());
  return {
    organization,
    issuer: f.issuer.trim(),
    clientId: f.clientId.trim(),
    clientSecret: f.clientSecret === "" ? null : f.clientSecret,
    scopes: parseScopes(f.scopes),
    emailClaim: optional(f.emailClaim),
    nameClaim: optional(f.nameClaim),
    groupsClaim: optional(f.groupsClaim),
  };
}

/** A claimed domain's state in a word, and what it means. */
export function domainStatus(d: { verified: boolean; verifiedAt?: string | null }, now = Date.now()): { word: "verified" | "pending"; detail: string } {
  if (d.verified) return { word: "verified", detail: d.verifiedAt ? ago(d.verifiedAt, now) : "" };
  return { word: "pending", detail: "publish its TXT record, then verify" };
}

/** A device login's code as the CLI shows it (`BCDF-GHJK`), or null until all 8 characters are typed. */
export function deviceCode(typed: string): string | null {
  const code = typed.replace(/[^A-Za-z0-9]/g, "").toUpperCase();
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : null;
}

/** How a team member got there, in words. */
export function memberSource(source: string): string {
  switch (source) {
    case "manual":
      return "added by hand";
    case "idp":
      return "from an identity provider group";
    case "scim":
      return "from SCIM";
    default:
      return source;
  }
}

/** What an identity provider group gives its members, in words. */
export function mappingText(m: { team?: string | null; orgRole?: string | null }): string {
  const parts: string[] = [];
  if (m.team) parts.push(`joins team ${m.team}`);
  if (m.orgRole) parts.push(`is ${m.orgRole.toLowerCase()} of the organisation`);
  return parts.length > 0 ? parts.join(" and ") : "nothing";
}

/** The organisation's members not yet in a team, for its "add a member" list. */
export function addableMembers<M extends { userId: string }>(members: M[], inTeam: { userId: string }[]): M[] {
  const taken = new Set(inTeam.map((m) => m.userId));
  return members.filter((m) => !taken.has(m.userId));
}

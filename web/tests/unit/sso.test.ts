import { describe, expect, it } from "vitest";
import {
  addableMembers,
  connectionInput,
  DEFAULT_SCOPES,
  deviceCode,
  domainStatus,
  emailDomain,
  loginMethod,
  loginPath,
  mappingText,
  memberSource,
  orgOfPath,
  parseScopes,
  safeReturnPath,
  ssoOrgStartUrl,
  ssoStartUrl,
} from "../../src/lib/sso";

describe("home-realm discovery", () => {
  it("finds the domain of a complete address only", () => {
    expect(emailDomain("Ada@Example.COM")).toBe("example.com");
    expect(emailDomain("  ada@research.example.org ")).toBe("research.example.org");
    expect(emailDomain("ada@example.com.")).toBe("example.com");
    expect(emailDomain("ada")).toBeNull();
    expect(emailDomain("ada@")).toBeNull();
    expect(emailDomain("@example.com")).toBeNull();
    expect(emailDomain("ada@example")).toBeNull();
    expect(emailDomain("ada@example.c")).toBeNull();
    expect(emailDomain("ada@exa..com")).toBeNull();
    expect(emailDomain("a da@example.com")).toBeNull();
  });

  it("decides between the password form and single sign-on per domain", () => {
    const known = { "acme.com": true, "example.com": false };
    expect(loginMethod("ada@acme.com", known)).toBe("sso");
    expect(loginMethod("ADA@ACME.COM", known)).toBe("sso");
    expect(loginMethod("ada@example.com", known)).toBe("password");
    expect(loginMethod("ada@elsewhere.org", known)).toBe("checking");
    expect(loginMethod("ada@acme", known)).toBe("password");
    expect(loginMethod("", known)).toBe("password");
  });
});

describe("where a login returns to", () => {
  it("keeps console paths and refuses the rest, as the server does", () => {
    expect(safeReturnPath("/device?code=BCDF-GHJK")).toBe("/device?code=BCDF-GHJK");
    expect(safeReturnPath("/orgs/acme/sso")).toBe("/orgs/acme/sso");
    expect(safeReturnPath(null)).toBe("/");
    expect(safeReturnPath("")).toBe("/");
    expect(safeReturnPath("https://evil.example/")).toBe("/");
    expect(safeReturnPath("//evil.example/")).toBe("/");
    expect(safeReturnPath("/\\evil.example")).toBe("/");
    expect(safeReturnPath(`/${"a".repeat(2000)}`)).toBe("/");
    expect(safeReturnPath("/login?next=/orgs")).toBe("/");
  });

  it("writes the login page's address with the return path", () => {
    expect(loginPath("/")).toBe("/login");
    expect(loginPath("/device?code=BCDF-GHJK")).toBe("/login?next=%2Fdevice%3Fcode%3DBCDF-GHJK");
    expect(loginPath("/orgs/acme", true)).toBe("/login?sso=1&next=%2Forgs%2Facme");
    expect(loginPath("//evil.example")).toBe("/login");
  });

  it("starts an organisation's single sign-on from the page that needs it", () => {
    expect(orgOfPath("/orgs/acme/teams")).toBe("acme");
    expect(orgOfPath("/w/acme/vision/repos/images")).toBe("acme");
    expect(orgOfPath("/orgs/new")).toBeNull();
    expect(orgOfPath("/device")).toBeNull();
    expect(orgOfPath("/orgs/%E0%A4%A")).toBeNull();
    expect(ssoOrgStartUrl("acme", "/w/acme/vision")).toBe("/auth/sso/start?org=acme&return_to=%2Fw%2Facme%2Fvision");
  });

  it("starts single sign-on by email, back to a safe path", () => {
    expect(ssoStartUrl(" ada@acme.com ", "/device?code=X")).toBe("/auth/sso/start?email=ada%40acme.com&return_to=%2Fdevice%3Fcode%3DX");
    expect(ssoStartUrl("ada@acme.com", "https://evil.example")).toBe("/auth/sso/start?email=ada%40acme.com&return_to=%2F");
  });
});

describe("the connection form", () => {
  const fields = {
    issuer: " https://login.acme.com ",
    clientId: "strata",
    clientSecret: "",
    scopes: "openid email, profile  groups email",
    emailClaim: "email",
    nameClaim: " ",
    groupsClaim: "roles",
  };

  it("keeps the stored client secret when its field is empty", () => {
    expect(connectionInput("acme", fields).clientSecret).toBeNull();
    expect(connectionInput("acme", { ...fields, clientSecret: " s3cret " }).clientSecret).toBe(" s3cret ");
  });

  it("trims, leaves empty claims to the server and lists scopes besides openid", () => {
    expect(connectionInput("acme", fields)).toEqual({
      organization: "acme",
      issuer: "https://login.acme.com",
      clientId: "strata",
      clientSecret: null,
      scopes: ["email", "profile", "groups"],
      emailClaim: "email",
      nameClaim: null,
      groupsClaim: "roles",
    });
    expect(parseScopes("   ")).toEqual(DEFAULT_SCOPES);
    expect(parseScopes("openid")).toEqual(DEFAULT_SCOPES);
    expect(parseScopes("email offline_access")).toEqual(["email", "offline_access"]);
  });
});

describe("domains", () => {
  it("says whether a domain is verified or what to publish", () => {
    const now = Date.parse("2026-11-29T12:00:00Z");
    expect(domainStatus({ verified: true, verifiedAt: "2026-11-27T12:00:00Z" }, now)).toEqual({ word: "verified", detail: "2 d ago" });
    expect(domainStatus({ verified: true, verifiedAt: null }, now)).toEqual({ word: "verified", detail: "" });
    expect(domainStatus({ verified: false, verifiedAt: null }, now)).toEqual({ word: "pending", detail: "publish its TXT record, then verify" });
  });
});

describe("device logins, teams and groups", () => {
  it("reads a device code however it is typed", () => {
    expect(deviceCode("bcdf-ghjk")).toBe("BCDF-GHJK");
    expect(deviceCode(" BCDF GHJK ")).toBe("BCDF-GHJK");
    expect(deviceCode("BCDFGHJ")).toBeNull();
    expect(deviceCode("BCDF-GHJK-L")).toBeNull();
  });

  it("says how a member joined a team and what a group gives", () => {
    expect(memberSource("manual")).toBe("added by hand");
    expect(memberSource("scim")).toBe("from SCIM");
    expect(memberSource("idp")).toBe("from an identity provider group");
    expect(memberSource("other")).toBe("other");
    expect(mappingText({ team: "research", orgRole: "ADMIN" })).toBe("joins team research and is admin of the organisation");
    expect(mappingText({ team: null, orgRole: "MEMBER" })).toBe("is member of the organisation");
    expect(mappingText({})).toBe("nothing");
  });

  it("offers only members not in the team yet", () => {
    const people = [
      { userId: "u1", email: "ada@acme.com" },
      { userId: "u2", email: "grace@acme.com" },
    ];
    expect(addableMembers(people, [{ userId: "u1" }])).toEqual([{ userId: "u2", email: "grace@acme.com" }]);
    expect(addableMembers(people, [])).toHaveLength(2);
  });
});

// Sign up, email verification, log in (with a password or single sign-on),
// password reset, invitations, and approving a CLI's device login.
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Field, FormErrors } from "../components/ui";
import { graphql } from "../gql";
import { useForm, useSubmit } from "../lib/forms";
import {
  deviceCode,
  discoverSso,
  emailDomain,
  errorFor,
  generalErrors,
  gql,
  Link,
  loginPath,
  navigate,
  safeReturnPath,
  setSession,
  ssoStartUrl,
  useHomeRealm,
  useLocation,
} from "../lib/index";
import { useSession } from "../session";

function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main id="main" className="auth">
      <p className="brand">Strata</p>
      <h1>{title}</h1>
      {children}
    </main>
  );
}

const LogIn = graphql(`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) {
      accessToken {
        token
        expiresAt
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

export function LogInPage() {
  const { query } = useLocation();
  const next = safeReturnPath(query.get("next"));
  const ssoOnly = query.get("sso") === "1";
  const ssoError = query.get("ssoError");
  return (
    <AuthFrame title={ssoOnly ? "Log in with single sign-on" : "Log in"}>
      {ssoError ? (
        <div className="banner error" role="alert" data-testid="sso-error">
          <p>Single sign-on failed: {ssoError}</p>
        </div>
      ) : null}
      {ssoOnly ? <SsoLogIn next={next} /> : <PasswordLogIn next={next} />}
      {ssoOnly ? (
        <p>
          <Link to={loginPath(next)}>Log in with a password</Link>
        </p>
      ) : (
        <p>
          New here? <Link to="/signup">Create an account</Link> · <Link to="/reset-password">Forgot your password?</Link> ·{" "}
          <Link to={loginPath(next, true)}>Log in with SSO</Link>
        </p>
      )}
    </AuthFrame>
  );
}

/** Off to the identity provider of the email's organisation (a full page load). */
function startSso(email: string, next: string) {
  window.location.assign(ssoStartUrl(email, next));
}

/**
 * Email and password, unless the email's domain logs in with single sign-on
 * (home-realm discovery): then a button to the identity provider, with the
 * password still at hand for owners (their break-glass access).
 */
function PasswordLogIn({ next }: { next: string }) {
  const session = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [withPassword, setWithPassword] = useState(false);
  const sso = useHomeRealm(email) === "sso" && !withPassword;
  const form = useSubmit(
    async () => (await gql(LogIn, { input: { email, password, client: "WEB" } })).logIn,
    async (payload) => {
      if (payload.accessToken) setSession(payload.accessToken.token, payload.accessToken.expiresAt);
      await session.reload();
      navigate(next, true);
    },
  );
  const submit = (event: FormEvent) => {
    if (!sso) return form.submit(event);
    event.preventDefault();
    startSso(email, next);
  };
  return (
    <form onSubmit={submit} noValidate>
      <FormErrors errors={generalErrors(form.errors, ["email", "password"])} />
      <Field label="Email" name="email" type="email" autoComplete="username" value={email} onChange={setEmail} error={errorFor(form.errors, "email")} required />
      {sso ? (
        <>
          <p className="hint" role="status">
            {emailDomain(email)} logs in through its organisation's identity provider.
          </p>
          <p>
            <button type="submit">Continue with single sign-on</button>
          </p>
          <p className="hint">
            An organisation owner?{" "}
            <button type="button" className="link" onClick={() => setWithPassword(true)}>
              Use your password instead
            </button>
          </p>
        </>
      ) : (
        <>
          <Field label="Password" name="password" type="password" autoComplete="current-password" value={password} onChange={setPassword} error={errorFor(form.errors, "password")} required />
          <button type="submit" disabled={form.busy}>
            Log in
          </button>
        </>
      )}
    </form>
  );
}

/** "Log in with SSO": the email only, checked against discovery before leaving. */
function SsoLogIn({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const form = useForm();
  const submit = (event: FormEvent) =>
    form.run(event, async () => {
      const domain = emailDomain(email);
      if (!domain) return [{ field: "email", code: "INVALID_ARGUMENT", message: "Enter your work email address." }];
      if (!(await discoverSso(email))) {
        return [{ field: "email", code: "NOT_FOUND", message: `No organisation logs in with single sign-on for ${domain}: log in with your password.` }];
      }
      startSso(email, next);
      return [];
    });
  return (
    <form onSubmit={submit} noValidate>
      <FormErrors errors={generalErrors(form.errors, ["email"])} />
      <Field label="Email" name="email" type="email" autoComplete="username" value={email} onChange={setEmail} error={errorFor(form.errors, "email")} hint="Your work address: it tells us your organisation." required />
      <button type="submit" disabled={form.busy}>
        Continue with single sign-on
      </button>
    </form>
  );
}

const SignUp = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

export function SignUpPage() {
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit(
    async () => (await gql(SignUp, { input: { email, password, displayName: name || null } })).signUp,
    () => navigate(`/check-email?email=${encodeURIComponent(email)}`),
  );
  return (
    <AuthFrame title="Create your account">
      <form onSubmit={form.submit} noValidate>
        <FormErrors errors={generalErrors(form.errors, ["email", "password", "displayName"])} />
        <Field label="Email" name="email" type="email" autoComplete="email" value={email} onChange={setEmail} error={errorFor(form.errors, "email")} required />
        <Field label="Your name" name="displayName" autoComplete="name" value={name} onChange={setName} error={errorFor(form.errors, "displayName")} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" value={password} onChange={setPassword} error={errorFor(form.errors, "password")} hint="At least 12 characters." required />
        <button type="submit" disabled={form.busy}>
          Sign up
        </button>
      </form>
      <p>
        Have an account? <Link to="/login">Log in</Link>
      </p>
    </AuthFrame>
  );
}

export function CheckEmailPage() {
  const { query } = useLocation();
  return (
    <AuthFrame title="Check your email">
      <p>
        We sent a link to <strong>{query.get("email") ?? "your address"}</strong>. Open it to confirm your account, then log in.
      </p>
      <p className="hint">
        Running <code>strata dev</code>? Mail is written to <code>.strata/outbox/</code> instead of being sent.
      </p>
      <p>
        <Link to="/login">Log in</Link>
      </p>
    </AuthFrame>
  );
}

const VerifyEmail = graphql(`
  mutation VerifyEmail($input: VerifyEmailInput!) {
    verifyEmail(input: $input) {
      user {
        email
        emailVerified
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

export function VerifyEmailPage() {
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const [outcome, setOutcome] = useState<{ ok: boolean; message: string } | null>(null);
  useEffect(() => {
    gql(VerifyEmail, { input: { token } })
      .then(({ verifyEmail }) =>
        setOutcome(
          verifyEmail.userErrors.length === 0
            ? { ok: true, message: `${verifyEmail.user?.email ?? "Your email"} is confirmed.` }
            : { ok: false, message: verifyEmail.userErrors[0].message },
        ),
      )
      .catch((error: Error) => setOutcome({ ok: false, message: error.message }));
  }, [token]);
  return (
    <AuthFrame title="Confirming your email">
      {outcome === null ? <p aria-live="polite">One moment…</p> : null}
      {outcome ? (
        <div className={`banner ${outcome.ok ? "ok" : "error"}`} role="status">
          <p>{outcome.message}</p>
        </div>
      ) : null}
      {outcome?.ok ? (
        <p>
          <Link to="/login">Log in</Link>
        </p>
      ) : null}
    </AuthFrame>
  );
}

const RequestReset = graphql(`
  mutation RequestPasswordReset($input: RequestPasswordResetInput!) {
    requestPasswordReset(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

const ResetPassword = graphql(`
  mutation ResetPassword($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      user {
        email
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

export function ResetPasswordPage() {
  const { query } = useLocation();
  const token = query.get("token");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const request = useSubmit(
    async () => (await gql(RequestReset, { input: { email } })).requestPasswordReset,
    () => setDone("If that address has an account, a reset link is on its way."),
  );
  const reset = useSubmit(
    async () => (await gql(ResetPassword, { input: { token: token ?? "", password } })).resetPassword,
    () => setDone("Your password is changed. Log in with it."),
  );
  if (done) {
    return (
      <AuthFrame title="Password reset">
        <div className="banner ok" role="status">
          <p>{done}</p>
        </div>
        <p>
          <Link to="/login">Log in</Link>
        </p>
      </AuthFrame>
    );
  }
  return token ? (
    <AuthFrame title="Choose a new password">
      <form onSubmit={reset.submit} noValidate>
        <FormErrors errors={generalErrors(reset.errors, ["password"])} />
        <Field label="New password" name="password" type="password" autoComplete="new-password" value={password} onChange={setPassword} error={errorFor(reset.errors, "password")} required />
        <button type="submit" disabled={reset.busy}>
          Set password
        </button>
      </form>
    </AuthFrame>
  ) : (
    <AuthFrame title="Reset your password">
      <form onSubmit={request.submit} noValidate>
        <FormErrors errors={generalErrors(request.errors, ["email"])} />
        <Field label="Email" name="email" type="email" autoComplete="email" value={email} onChange={setEmail} error={errorFor(request.errors, "email")} required />
        <button type="submit" disabled={request.busy}>
          Send a reset link
        </button>
      </form>
    </AuthFrame>
  );
}

const AcceptInvitation = graphql(`
  mutation AcceptInvitation($input: AcceptInvitationInput!) {
    acceptInvitation(input: $input) {
      organization {
        slug
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

export function AcceptInvitationPage() {
  const session = useSession();
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const form = useSubmit(
    async () => (await gql(AcceptInvitation, { input: { token } })).acceptInvitation,
    async (payload) => {
      await session.reload();
      navigate(`/orgs/${payload.organization?.slug ?? ""}`);
    },
  );
  if (session.status !== "signed-in") {
    return (
      <AuthFrame title="You are invited">
        <p>Log in (or sign up with the invited address) first, then open the invitation link again.</p>
        <p>
          <Link to={`/login`}>Log in</Link> · <Link to="/signup">Sign up</Link>
        </p>
      </AuthFrame>
    );
  }
  return (
    <AuthFrame title="Join the organisation">
      <form onSubmit={form.submit}>
        <FormErrors errors={form.errors} />
        <p>You are logged in as {session.viewer?.email}.</p>
        <button type="submit" disabled={form.busy}>
          Accept the invitation
        </button>
      </form>
    </AuthFrame>
  );
}

const ApproveDevice = graphql(`
  mutation ApproveDeviceLogin($input: ApproveDeviceLoginInput!) {
    approveDeviceLogin(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

/** `/device`: lets a CLI waiting on `strata auth login --device` in as the logged-in person. */
export function DevicePage() {
  const session = useSession();
  const { query } = useLocation();
  const [code, setCode] = useState(query.get("code") ?? "");
  const [approved, setApproved] = useState(false);
  const form = useSubmit(async () => (await gql(ApproveDevice, { input: { userCode: code } })).approveDeviceLogin, () => setApproved(true));
  if (approved) {
    return (
      <AuthFrame title="The CLI is logged in">
        <div className="banner ok" role="status" data-testid="device-approved">
          <p>Go back to your terminal: the CLI acts as {session.viewer?.email} now. You may close this tab.</p>
        </div>
      </AuthFrame>
    );
  }
  return (
    <AuthFrame title="Log in the CLI">
      <form onSubmit={form.submit} noValidate>
        <p>
          Enter the code shown by the CLI. Approve only a login you started yourself just now: the CLI will act as <strong>{session.viewer?.email}</strong>.
        </p>
        <FormErrors errors={generalErrors(form.errors, ["userCode"])} />
        <Field label="Code" name="userCode" autoComplete="one-time-code" value={code} onChange={setCode} error={errorFor(form.errors, "userCode")} hint="Eight letters, e.g. BCDF-GHJK." required />
        <button type="submit" disabled={form.busy || !deviceCode(code)}>
          Approve
        </button>{" "}
        <Link to="/">Cancel</Link>
      </form>
    </AuthFrame>
  );
}

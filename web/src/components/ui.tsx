import { Component, useId, useState, type ReactNode } from "react";
import { useForm } from "../lib/forms";
import { ApiFailure, loginPath, NetworkFailure, orgOfPath, ssoOrgStartUrl, useLocation, type Loaded, type UserError } from "../lib/index";

/** A labelled input with its error beside it. */
export function Field(props: {
  label: string;
  name: string;
  type?: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
  hint?: string;
  autoComplete?: string;
  required?: boolean;
}) {
  const id = useId();
  const described = props.error ? `${id}-error` : props.hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={props.value}
        required={props.required}
        autoComplete={props.autoComplete}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.error ? (
        <p className="field-error" id={`${id}-error`} role="alert">
          {props.error}
        </p>
      ) : props.hint ? (
        <p className="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

/** Errors that concern no one field. */
export function FormErrors({ errors }: { errors: UserError[] }) {
  if (errors.length === 0) return null;
  return (
    <div className="banner error" role="alert">
      {errors.map((e) => (
        <p key={e.code + e.message}>{e.message}</p>
      ))}
    </div>
  );
}

/** What a page shows while loading, on failure (with a retry) or its content. */
export function LoadState<T>({ state, children }: { state: Loaded<T>; children: (data: T) => ReactNode }) {
  if (state.data !== undefined) {
    return (
      <>
        {state.error ? <RetryBanner error={state.error} retry={state.reload} /> : null}
        {children(state.data)}
      </>
    );
  }
  if (state.error) return <RetryBanner error={state.error} retry={state.reload} />;
  return (
    <p className="loading" aria-live="polite">
      Loading…
    </p>
  );
}

function RetryBanner({ error, retry }: { error: Error; retry: () => void }) {
  const network = error instanceof NetworkFailure;
  return (
    <div className="banner error" role="alert">
      <p>{network ? `The server is not answering: ${error.message}.` : error.message}</p>
      {error instanceof ApiFailure && error.code === "SSO_REQUIRED" ? (
        <SsoAgain />
      ) : (
        <button type="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** The organisation of this page requires single sign-on: through its identity provider and back here. */
function SsoAgain() {
  const { path } = useLocation();
  const here = path + window.location.search;
  const org = orgOfPath(path);
  return (
    <a className="button" href={org ? ssoOrgStartUrl(org, here) : loginPath(here, true)}>
      Log in with single sign-on
    </a>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" className="secondary" onClick={copy} aria-live="polite">
      {copied ? "Copied" : label}
    </button>
  );
}

/** A command a new user can copy. */
export function Command({ text }: { text: string }) {
  return (
    <div className="command">
      <pre>
        <code>{text}</code>
      </pre>
      <CopyButton text={text} />
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <section className="empty">
      <h3>{title}</h3>
      {children}
    </section>
  );
}

/** A state word with its colour (READY, RUNNING, FAILURE…). */
export function StateBadge({ state }: { state: string | null | undefined }) {
  const word = (state ?? "none").toLowerCase();
  return <span className={`badge state-${word}`}>{word.replace(/_/g, " ")}</span>;
}

/** Keeps one broken page from blanking the whole console. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error?: Error }> {
  state: { error?: Error } = {};

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    if (this.state.error) {
      return (
        <div className="banner error" role="alert">
          <h2>This page failed</h2>
          <p>{this.state.error.message}</p>
          <button type="button" onClick={() => this.setState({ error: undefined })}>
            Try again
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}

/**
 * A destructive action asked for twice: `label` opens a banner that says
 * what follows (`question`) with the `confirm` button and Cancel. `done`
 * runs once the server did it; its refusals show in the banner. `inline`
 * places the first button in a line of others, otherwise on its own.
 */
export function AskFirst(props: {
  label: string;
  question: ReactNode;
  confirm: string;
  run: () => Promise<{ ok: boolean; userErrors: UserError[] }>;
  done: () => void;
  inline?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const form = useForm();
  const go = () =>
    form.act(async () => {
      const { ok, userErrors } = await props.run();
      if (ok) props.done();
      return userErrors;
    });
  if (!asking) {
    const button = (
      <button type="button" className="secondary danger" onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
    return props.inline ? <> {button}</> : <p>{button}</p>;
  }
  return (
    <div className="banner error" role="alert">
      <FormErrors errors={form.errors} />
      <p>{props.question}</p>
      <button type="button" className="danger" onClick={go}>
        {props.confirm}
      </button>
      <button type="button" className="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </div>
  );
}

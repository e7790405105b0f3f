// Forms that run a mutation and show its `userErrors` by field.
import { useState, type FormEvent } from "react";
import { graphql } from "../gql";
import type { UserError } from "./api";

/** The fields of a mutation's `userErrors`, shared by every form. */
export const Problems = graphql(`
  fragment Problems on UserError {
    field
    message
    code
  }
`);

/**
 * A form's state: the errors of its last submit and whether one runs.
 * `run` submits a form; `act` runs the same way for a control outside one
 * (a button, a switch, a select that saves on change).
 */
export function useForm() {
  const [errors, setErrors] = useState<UserError[]>([]);
  const [busy, setBusy] = useState(false);
  const act = async (action: () => Promise<UserError[]>) => {
    setBusy(true);
    try {
      setErrors(await action());
    } catch (error) {
      setErrors([{ field: null, code: "NETWORK", message: (error as Error).message }]);
    } finally {
      setBusy(false);
    }
  };
  const run = async (event: FormEvent, action: () => Promise<UserError[]>) => {
    event.preventDefault();
    await act(action);
  };
  return { errors, busy, run, act };
}

/** A form whose mutation returns a payload: `done` runs when it succeeded. */
export function useSubmit<T>(
  mutate: () => Promise<{ userErrors: UserError[] } & T>,
  done: (payload: T) => void | Promise<void>,
) {
  const form = useForm();
  const submit = (event: FormEvent) =>
    form.run(event, async () => {
      const payload = await mutate();
      if (payload.userErrors.length === 0) await done(payload);
      return payload.userErrors;
    });
  return { errors: form.errors, busy: form.busy, submit };
}

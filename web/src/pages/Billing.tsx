// An organisation's billing: its plan and subscription, the way to upgrade
// (Stripe Checkout) and to manage payment (Stripe's customer portal), and
// what an overdue payment means for its workspaces.
import { Layout } from "../components/Layout";
import { Empty, FormErrors, LoadState } from "../components/ui";
import { graphql } from "../gql";
import { useForm } from "../lib/forms";
import { bytes, usd } from "../lib/format";
import { gql, Link, useLoad } from "../lib/index";

const BillingQuery = graphql(`
  query OrgBilling($org: String!) {
    plans {
      name
      title
      seats
      workspaces
      workers
    }
    organization(slug: $org) {
      slug
      plan
      workspaces(first: 100) {
        nodes {
          slug
          state
        }
      }
      billing {
        enabled
        plan
        status
        pastDueSince
        suspendAt
        suspendedAt
      }
    }
  }
`);

const StartCheckout = graphql(`
  mutation StartCheckout($input: StartCheckoutInput!) {
    startCheckout(input: $input) {
      url
      userErrors {
        ...Problems
      }
    }
  }
`);

const OpenPortal = graphql(`
  mutation OpenBillingPortal($input: OpenBillingPortalInput!) {
    openBillingPortal(input: $input) {
      url
      userErrors {
        ...Problems
      }
    }
  }
`);

const MonthlyCostQuery = graphql(`
  query WorkspaceMonthlyCost($org: String!, $ws: String!) {
    workspace(organization: $org, slug: $ws) {
      storage {
        usedBytes
        limitBytes
      }
      monthlyCost {
        month
        total {
          plan
          priceUsd
          cpuSeconds
          memoryGibSeconds
        }
        pipelines {
          pipeline
          jobs
          datums
          cost {
            priceUsd
            cpuSeconds
            memoryGibSeconds
          }
        }
      }
    }
  }
`);

/** Workspaces whose server answers (a sleeping one wakes for the query). */
const ANSWERING = ["READY", "SLEEPING"];

/** One workspace's usage this month, pipeline by pipeline. */
function WorkspaceMonth({ org, ws }: { org: string; ws: string }) {
  const state = useLoad(() => gql(MonthlyCostQuery, { org, ws }), `monthly-cost:${org}/${ws}`);
  return (
    <LoadState state={state}>
      {(data) => {
        const month = data.workspace?.monthlyCost;
        const storage = data.workspace?.storage;
        if (!month) return null;
        return (
          <section data-testid={`monthly-cost-${ws}`}>
            <h3>
              {ws}: <strong>{usd(month.total.priceUsd)}</strong> in {month.month} at the {month.total.plan} plan's prices
            </h3>
            {storage && (
              <p data-testid={`storage-${ws}`}>
                Storage: {bytes(storage.usedBytes)}
                {storage.limitBytes != null ? ` of ${bytes(storage.limitBytes)} on its plan` : " (no plan limit)"}
              </p>
            )}
            {month.pipelines.length === 0 ? (
              <p className="hint">No datums ran this month.</p>
            ) : (
              <table className="table">
                <caption className="visually-hidden">Usage of {ws} by pipeline</caption>
                <thead>
                  <tr>
                    <th scope="col">Pipeline</th>
                    <th scope="col">Jobs</th>
                    <th scope="col">Datums</th>
                    <th scope="col">CPU-seconds</th>
                    <th scope="col">Memory GiB-seconds</th>
                    <th scope="col">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {month.pipelines.map((p) => (
                    <tr key={p.pipeline}>
                      <td>
                        <Link to={`/w/${org}/${ws}/pipelines/${p.pipeline}`}>{p.pipeline}</Link>
                      </td>
                      <td>{p.jobs}</td>
                      <td>{p.datums}</td>
                      <td>{p.cost.cpuSeconds.toFixed(2)}</td>
                      <td>{p.cost.memoryGibSeconds.toFixed(2)}</td>
                      <td>{usd(p.cost.priceUsd)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        );
      }}
    </LoadState>
  );
}

/** What `?checkout=` on the way back from Stripe says. */
function checkoutOutcome(): string | null {
  const outcome = new URLSearchParams(window.location.search).get("checkout");
  if (outcome === "done") return "Payment received. Your plan changes as soon as Stripe confirms it (usually within seconds); this page updates by itself.";
  if (outcome === "cancelled") return "Checkout cancelled: nothing was charged and your plan is unchanged.";
  return null;
}

export function BillingPage({ org }: { org: string }) {
  const returning = checkoutOutcome();
  const state = useLoad(() => gql(BillingQuery, { org }), `billing:${org}`, returning ? 2000 : undefined);
  const form = useForm();
  const go = (mutation: () => Promise<{ url?: string | null; userErrors: { field?: string | null; code: string; message: string }[] }>) =>
    form.act(async () => {
      const payload = await mutation();
      if (payload.url) window.location.assign(payload.url);
      return payload.userErrors;
    });
  const checkout = (plan: string) =>
    go(async () => (await gql(StartCheckout, { input: { organization: org, plan } })).startCheckout);
  const portal = () => go(async () => (await gql(OpenPortal, { input: { organization: org } })).openBillingPortal);
  return (
    <Layout org={org}>
      <h1>Billing</h1>
      {returning ? <p className="banner" data-testid="checkout-outcome">{returning}</p> : null}
      <LoadState state={state}>
        {(data) => {
          const billing = data.organization?.billing;
          if (!data.organization) return <Empty title="No such organisation" />;
          if (!billing) return <Empty title="Billing is for owners">Ask an owner of this organisation to change its plan.</Empty>;
          const current = data.plans.find((p) => p.name === data.organization?.plan);
          const bigger = data.plans.slice(data.plans.findIndex((p) => p.name === data.organization?.plan) + 1);
          const subscribed = billing.status !== "none" && billing.status !== "canceled";
          return (
            <>
              <p className="lead" data-testid="billing-plan">
                {org} is on the <strong>{current?.title ?? data.organization.plan}</strong> plan
                {subscribed ? ` (subscription ${billing.status.replace("_", " ")})` : ""}.
              </p>
              {billing.suspendedAt ? (
                <p className="banner error" data-testid="billing-suspended">
                  Payment is overdue, so this organisation's workspaces are suspended (their data is kept). Pay the open invoice in the billing portal and they resume within seconds.
                </p>
              ) : billing.pastDueSince ? (
                <p className="banner error" data-testid="billing-past-due">
                  A payment failed. Update your payment method before {billing.suspendAt ? new Date(billing.suspendAt).toLocaleString() : "the grace period ends"}, or the workspaces are suspended.
                </p>
              ) : null}
              <FormErrors errors={form.errors} />
              {!billing.enabled ? (
                <p className="hint">Billing is off on this installation: its administrator assigns plans.</p>
              ) : subscribed ? (
                <button type="button" onClick={portal} disabled={form.busy} data-testid="open-portal">
                  Manage payment, invoices and plan
                </button>
              ) : (
                <div className="cards">
                  {bigger.map((plan) => (
                    <div className="card" key={plan.name}>
                      <h2>{plan.title}</h2>
                      <p>
                        {plan.seats} seats · {plan.workspaces} workspaces · {plan.workers} workers per workspace
                      </p>
                      <button type="button" onClick={() => checkout(plan.name)} disabled={form.busy} data-testid={`upgrade-${plan.name}`}>
                        Upgrade to {plan.title}
                      </button>
                    </div>
                  ))}
                </div>
              )}
              <h2>This month's usage</h2>
              <p className="hint">What each workspace's pipelines used, at its plan's prices; seats are billed apart.</p>
              {data.organization.workspaces.nodes
                .filter((w) => ANSWERING.includes(w.state))
                .map((w) => (
                  <WorkspaceMonth key={w.slug} org={org} ws={w.slug} />
                ))}
            </>
          );
        }}
      </LoadState>
    </Layout>
  );
}

// A portal's first hour, through the client generated from the live OpenAPI document
// (openapi-typescript types + openapi-fetch). tsc type-checks it; tests/test_generated_clients.py
// runs it against a real server with BASE_URL set. Every header is a typed parameter;
// every error is a typed Problem. Exits non-zero (with the reason) on any surprise.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

declare const process: { env: Record<string, string | undefined> };

type Problem = components["schemas"]["Problem"];
type LineIn = components["schemas"]["LineIn"];

const baseUrl = process.env.BASE_URL;
if (!baseUrl) throw new Error("BASE_URL is not set");

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`failed: ${what}`);
}

function etagOf(response: Response): string {
  const etag = response.headers.get("ETag");
  check(etag !== null, "an ETag");
  return etag;
}

const slug = `ts-${Date.now()}`;
const anonymous = createClient<paths>({ baseUrl });

const signedUp = await anonymous.POST("/api/v1/auth/signup", {
  body: {
    tenant: { name: "TypeScript GmbH", slug },
    owner: { email: `olive@${slug}.example.com`, password: "a long unusual passphrase", full_name: "Olive" },
  },
});
check(signedUp.data !== undefined, `sign-up: ${JSON.stringify(signedUp.error)}`);
check(signedUp.response.headers.get("Location") !== null, "sign-up sends Location");
const tenant = signedUp.data.tenant.id;

const login = await anonymous.POST("/api/v1/auth/login", {
  params: { header: { "X-Tenant-ID": slug } },
  body: { email: `olive@${slug}.example.com`, password: "a long unusual passphrase" },
});
check(login.data !== undefined, "login");

const api = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${login.data.access_token}` },
});
const inTenant = { "X-Tenant-ID": tenant };

const vendor = await api.POST("/api/v1/vendors", {
  params: { header: { ...inTenant, "Idempotency-Key": `vendor-${slug}` } },
  body: { name: "Paper GmbH", default_currency: "EUR", payment_terms_days: 14 },
});
check(vendor.data !== undefined, "vendor");

const lines: LineIn[] = [
  { description: "Toner", quantity: "2", unit_price: "49.99", tax_rate: "0.19" },
  { description: "Paper", quantity: "10", unit_price: "5.00", tax_rate: "0.19" },
];
// @ts-expect-error money is a decimal string: a number does not type-check
const float: LineIn = { description: "Toner", quantity: "1", unit_price: 0.1 };
check(float.description === "Toner", "the refused line stays out of every request");

const created = await api.POST("/api/v1/invoices", {
  params: { header: inTenant },
  body: { vendor_id: vendor.data.id, number: "INV-17", issue_date: "2026-03-01", lines },
});
check(created.data !== undefined, `invoice: ${JSON.stringify(created.error)}`);
check(created.data.total === "178.48", `total ${created.data.total}`);
const invoiceId = created.data.id;
const onInvoice = { path: { invoice_id: invoiceId } };

// A step with a stale ETag: 412, typed as a Problem.
const stale = await api.POST("/api/v1/invoices/{invoice_id}/submit", {
  params: { ...onInvoice, header: { ...inTenant, "If-Match": '"99"' } },
});
const refused: Problem | undefined = stale.error;
check(stale.response.status === 412 && refused?.code === "version_conflict", "412 problem");

let etag = etagOf(created.response);
for (const step of ["submit", "approve"] as const) {
  const stepped = await api.POST(`/api/v1/invoices/{invoice_id}/${step}`, {
    params: { ...onInvoice, header: { ...inTenant, "If-Match": etag } },
  });
  check(stepped.data !== undefined, `${step}: ${JSON.stringify(stepped.error)}`);
  etag = etagOf(stepped.response);
}
for (const amount of ["100.00", "78.48"]) {
  const paid = await api.POST("/api/v1/invoices/{invoice_id}/pay", {
    params: { ...onInvoice, header: { ...inTenant, "If-Match": etag } },
    body: { paid_on: "2026-03-10", amount, reference: "SEPA-4711" },
  });
  check(paid.data !== undefined, `pay ${amount}: ${JSON.stringify(paid.error)}`);
  etag = etagOf(paid.response);
  check(paid.data.amount_paid !== "0.00", "payment recorded");
}

const listed = await api.GET("/api/v1/invoices", {
  params: { header: inTenant, query: { status: "paid", total_min: "100.00", sort: "-due_date" } },
});
check(listed.data?.items.length === 1 && listed.data.items[0]?.status === "paid", "filtered list");

const exported = await api.GET("/api/v1/invoices/export.csv", {
  params: { header: inTenant, query: { issue_date_from: "2026-01-01" } },
  parseAs: "text",
});
check(exported.data !== undefined && exported.data.includes("INV-17"), "CSV export");

const category = await api.POST("/api/v1/asset-categories", {
  params: { header: inTenant },
  body: { name: "IT equipment", depreciation_method: "straight_line", useful_life_months: 60 },
});
check(category.data !== undefined, "category");
const asset = await api.POST("/api/v1/assets", {
  params: { header: inTenant },
  body: {
    name: "Server", category_id: category.data.id, acquisition_date: "2026-01-10",
    in_service_date: "2026-01-15", cost: "10000.00", currency: "EUR",
  },
});
check(asset.data !== undefined, `asset: ${JSON.stringify(asset.error)}`);
const schedule = await api.GET("/api/v1/assets/{asset_id}/schedule", {
  params: { path: { asset_id: asset.data.id }, header: inTenant },
});
check(schedule.data !== undefined && schedule.data[0]?.depreciation === "166.67", "schedule");

console.log(JSON.stringify({ tenant, invoice: invoiceId, asset: asset.data.id, months: schedule.data.length }));

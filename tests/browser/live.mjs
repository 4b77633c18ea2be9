// Drives headless Chromium through the dozerc live page (run by compiler/tests/live_browser.rs).
//
//   node live.mjs <page url> <screenshot folder>
//
// 1. Opens the page and waits for the pipeline graph with live row counts.
// 2. Shows the endpoint `sales_by_country`, prints `READY <rows>` and waits: the test then drops a
//    new file with a new country, and the page must show one row more, without a reload.
// 3. Runs a query in the API explorer and checks its rows and the curl and gRPC commands shown.
// Prints `DONE` and exits 0 when every step held; any failure exits 1 with the reason.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [url, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const step = (message) => console.error(`live.mjs: ${message}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => step(`page error: ${e.message}`));
  await page.goto(url);

  step("the graph");
  for (const id of ["source:sales_data", "statement:sales_by_country", "endpoint:sales_by_country"]) {
    await page.waitForSelector(`[data-node="${id}"]`, { timeout: 60_000 });
  }
  await page.waitForFunction(
    () => /\d+ rows/.test(document.querySelector('[data-count="source:sales_data"]')?.textContent || ""),
    null, { timeout: 60_000 });
  const sourceRows = await page.textContent('[data-count="source:sales_data"]');
  step(`source node shows ${sourceRows}`);
  await page.screenshot({ path: join(shots, "1-graph.png"), fullPage: true });

  step("an endpoint's rows, live");
  await page.selectOption("#endpoint-select", "sales_by_country");
  await page.waitForFunction(
    () => /^\d+ rows$/.test(document.getElementById("endpoint-count").textContent)
      && document.querySelector("#endpoint-rows th")?.textContent === "Country",
    null, { timeout: 30_000 });
  const before = parseInt(await page.textContent("#endpoint-count"), 10);
  console.log(`READY ${before}`);
  await page.waitForFunction(
    (n) => parseInt(document.getElementById("endpoint-count").textContent, 10) === n + 1,
    before, { timeout: 120_000 });
  await page.waitForFunction(
    () => document.querySelector('[data-count="source:sales_data"]').textContent.startsWith("10010 rows"),
    null, { timeout: 30_000 });
  step(`the endpoint went from ${before} to ${before + 1} rows`);
  await page.screenshot({ path: join(shots, "2-after-change.png"), fullPage: true });

  step("the API explorer");
  await page.selectOption("#explorer-endpoint", "sales_by_country");
  await page.fill("#explorer-filter", '{"Country": "Atlantis"}');
  await page.fill("#explorer-limit", "5");
  await page.click("#explorer-run");
  await page.waitForFunction(() => document.getElementById("explorer-status").textContent === "HTTP 200", null, { timeout: 30_000 });
  const result = await page.textContent("#explorer-result");
  if (!result.includes("Atlantis")) throw new Error(`the explorer's result lacks Atlantis: ${result}`);
  const rows = await page.$$eval("#explorer-result tr", (trs) => trs.length - 1);
  if (rows !== 1) throw new Error(`the explorer shows ${rows} rows, expected 1`);
  const curl = await page.textContent("#explorer-curl");
  const grpc = await page.textContent("#explorer-grpc");
  if (!curl.includes("/sales_by_country/query") || !curl.includes("Atlantis")) throw new Error(`curl: ${curl}`);
  if (!grpc.includes("dozer.generated.sales_by_country.SalesByCountryService/query")) throw new Error(`gRPC: ${grpc}`);
  await page.screenshot({ path: join(shots, "3-explorer.png"), fullPage: true });
  console.log("DONE");
} catch (e) {
  step(`failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

// The bodies of POST /v1/match and POST /v1/rfqs, and the match answer as the page shows it.
import { t } from "./i18n.js";

function tolerance(spec) {
  return /^\d/.test(spec.tolerance) ? Number(spec.tolerance) : spec.tolerance;
}

/** MatchRequest: the part, the spec, and the date the parts must ship by. */
export function matchRequest(partId, spec, k = 8) {
  return {
    part_id: partId,
    material: spec.material,
    quantity: spec.quantity,
    tolerance: tolerance(spec),
    finish: spec.finish,
    needed_by: spec.due_date,
    k,
  };
}

/** RfqCreate from a match the buyer just saw. */
export function rfqRequest(matchId, shopIds, message) {
  const body = { match_id: matchId, shop_ids: shopIds };
  if (message && message.trim()) body.message = message.trim();
  return body;
}

/** One line on what the hard filters removed ("envelope: 1, capacity: 2"), or "". */
export function filteredText(filtered) {
  const entries = Object.entries(filtered || {}).filter(([, n]) => n > 0);
  if (!entries.length) return "";
  const n = entries.reduce((acc, [, v]) => acc + v, 0);
  return t("match.filtered", { n, why: entries.map(([k, v]) => `${t(`filter.${k}`, { name: k })} ${v}`).join(", ") });
}

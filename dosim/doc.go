// Package dosim simulates the parts of DigitalOcean that do-fip talks to, so that do-fip can be tested and
// demonstrated without an account: the API for reserved IPs, the droplet metadata service, and faults that
// the real service and the network between produce.
//
// What it models:
//
//   - The API under /v2: bearer-token authentication (401 unauthorized; a read-only token gets 403 forbidden on
//     writes; a custom-scoped token gets 403 on any request its scopes do not cover, see RequiredScope),
//     GET /v2/account, /v2/droplets, reserved IPv4 (/v2/reserved_ips and the legacy /v2/floating_ips,
//     with their per-IP action list and lookup), reserved IPv6 (/v2/reserved_ipv6, without per-IP action
//     endpoints, as on DigitalOcean) and /v2/actions. Bodies follow DigitalOcean's OpenAPI description; errors
//     are {"id","message","request_id"} and every answer carries x-request-id.
//   - Asynchronous actions: an assign or unassign answers 201 with an in-progress action; the IP reads
//     "locked": true and the droplets involved have a pending event until the action latency has passed, then
//     the action is completed (the holder changes only then) or, with an ActionFault, errored (holder
//     unchanged) or stuck. Action state is derived from the clock when read; there are no goroutines. Action
//     times spread over ActionLatency ± ActionJitter (real ones take 10–12 s).
//   - DigitalOcean's 422 unprocessable_entity rules: the IP has a pending event, a droplet involved has a
//     pending event, the droplet already holds this IP, the droplet already holds another reserved IP of the
//     same family, the droplet is in another region, or the droplet does not exist.
//   - Rate limits per token: sliding windows of one hour and one minute, ratelimit-limit/-remaining/-reset on
//     every API answer, and 429 too_many_requests with retry-after when the per-minute burst is exceeded. Every
//     caller with the same token shares them. Whether DigitalOcean counts refused requests is not documented:
//     RateCountsRefused chooses.
//   - The metadata service: text values and indexes under /metadata/v1/ (index paths without a trailing slash
//     answer 301, unknown paths 404) and /metadata/v1.json. It answers as the droplet whose address (or
//     SourceAddrs) sent the request, or as droplet N under /droplets/N/metadata/v1/... for clients on
//     loopback. Reserved-IP values reflect completed actions only, MetadataLag after they completed.
//   - A clock that can disagree with the client's (SetClockOffset): the Date header of every answer, the
//     rate-limit windows and ratelimit-reset follow it. UseUpHour spends a token's hourly allowance as other
//     users of a shared token would. Both are also in the control API (PUT /_sim/clock, POST /_sim/use-up-hour).
//   - Faults (Fault, ActionFault) and a control API under /_sim/ for tests that run the simulator as a separate
//     process.
//
// What it does not model: creating or deleting reserved IPs, droplets and projects; pagination (one page holds
// everything); scopes of endpoints it does not serve; HTTP/2 stream errors; user-data and vendor-data;
// other droplet actions (only reserved-IP actions give a droplet a pending event). Where DigitalOcean's exact
// wording of a 422 message is not published, the simulator uses its own wording under DigitalOcean's error id
// "unprocessable_entity". An assign to a droplet that does not exist answers 422, not 404, because the droplet
// is a field of the body rather than the resource the URL names. droplet_id is accepted as a number or a
// numeric string, as DigitalOcean accepts the string the classic assign-ip script sends.
//
// Control API (no token, not rate limited, not logged; JSON bodies mirror Fault and ActionFault with
// snake_case names and durations as strings such as "1.5s"):
//
//	POST   /_sim/faults          add a Fault                     {"method":"POST","path":"/v2/reserved_ips/","status":503,"times":1,"skip":0}
//	POST   /_sim/action-faults   add an ActionFault              {"outcome":"errored","not_found_for":"2s","times":1}
//	DELETE /_sim/faults          clear faults and action faults
//	PUT    /_sim/latency         set the action latency          {"action_latency":"2s"}
//	GET    /_sim/state           {"ips":[{"ip","droplet_id","locked"}],"requests":N,"metadata_requests":M}
//	GET    /_sim/requests        the request log
//	DELETE /_sim/requests        empty the request log
//	POST   /_sim/assign          set a holder without an action  {"ip":"203.0.113.10","droplet_id":1001}
//
// The request log (Requests, GET /_sim/requests) keeps the newest 100000 entries and never holds a token.
package dosim

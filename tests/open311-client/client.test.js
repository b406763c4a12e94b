// client.test.js: whistle's Open311 GeoReport v2 endpoint driven by a client no one here
// wrote, Code for America's node-open311 0.0.12, in JSON mode: every method of the client
// (serviceDiscovery, serviceList, serviceDefinition, submitRequest, token, serviceRequests,
// serviceRequest), each answer's shape checked against the spec, and an unknown service code
// answered with the spec's error document.
//
//   OPEN311_URL=http://127.0.0.1:7080/ OPEN311_API_KEY=... node --test client.test.js
//
// Environment:
//   OPEN311_URL           the GeoReport v2 base URL (required; a trailing '/' is added)
//   OPEN311_API_KEY       an integrator's api_key (required)
//   OPEN311_DISCOVERY     the discovery document (default: OPEN311_URL + "discovery.json")
//   OPEN311_JURISDICTION  jurisdiction_id to send (default: none)
//   OPEN311_SERVICE_CODE  the service to submit to (default: the first in services.json)
//
// Needs `npm ci` in this folder first (the lockfile pins open311 and its dependencies;
// sparkxml and xml2json are local stand-ins, used by the client in XML mode only).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const Open311 = require('open311');

const base = process.env.OPEN311_URL;
const apiKey = process.env.OPEN311_API_KEY;
if (!base || !apiKey) {
  console.error('client.test.js: set OPEN311_URL and OPEN311_API_KEY');
  process.exit(2);
}
const endpoint = base.endsWith('/') ? base : base + '/';
const options = {
  endpoint,
  apiKey,
  format: 'json',
  discovery: process.env.OPEN311_DISCOVERY || endpoint + 'discovery.json',
};
if (process.env.OPEN311_JURISDICTION) options.jurisdiction = process.env.OPEN311_JURISDICTION;
const client = new Open311(options);

// The client's methods take a node-style callback; the client itself throws when the
// connection fails (it reads res.statusCode without checking err), which fails the test too.
function call(method, ...args) {
  return new Promise((resolve, reject) => {
    try {
      client[method](...args, (err, data) => (err ? reject(Object.assign(new Error(
        `${method}: ${typeof data === 'string' ? data : JSON.stringify(data)}`), {code: err}))
        : resolve(data)));
    } catch (e) {
      reject(e);
    }
  });
}

// A W3C datetime with a zone ("2026-05-01T10:00:00+08:00" or "...Z"), as the spec requires.
const W3C = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const REQUEST_FIELDS = [
  'service_request_id', 'status', 'status_notes', 'service_name', 'service_code', 'description',
  'agency_responsible', 'service_notice', 'requested_datetime', 'updated_datetime',
  'expected_datetime', 'address', 'address_id', 'zipcode', 'lat', 'long', 'media_url',
];

function isText(v) {
  return typeof v === 'string' && v.length > 0;
}

// A service request as serviceRequests() hands it back (datetimes already made Dates).
function checkRequest(r) {
  for (const f of REQUEST_FIELDS) assert.ok(f in r, `request lacks ${f}: ${JSON.stringify(r)}`);
  assert.ok(isText(r.service_request_id));
  assert.ok(r.status === 'open' || r.status === 'closed', `status ${r.status}`);
  assert.ok(isText(r.service_code));
  assert.ok(isText(r.service_name));
  assert.ok(r.requested_datetime instanceof Date && !isNaN(r.requested_datetime));
  assert.ok(r.updated_datetime instanceof Date && !isNaN(r.updated_datetime));
  if (r.expected_datetime !== null) {
    assert.ok(r.expected_datetime instanceof Date && !isNaN(r.expected_datetime));
  }
  if (r.lat !== null) assert.equal(typeof r.lat, 'number');
  if (r.long !== null) assert.equal(typeof r.long, 'number');
}

// The raw text of a GET (for what the client converts before we see it).
function rawGet(path) {
  return new Promise((resolve, reject) => {
    http.get(endpoint + path, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({status: res.statusCode, type: res.headers['content-type'], body}));
    }).on('error', reject);
  });
}

const state = {};

test('serviceDiscovery: endpoints, formats, changeset, contact', async () => {
  const d = await call('serviceDiscovery', {cache: false});
  assert.ok(W3C.test(d.changeset), `changeset ${d.changeset}`);
  assert.ok(isText(d.contact));
  assert.ok(Array.isArray(d.endpoints) && d.endpoints.length > 0);
  const ep = d.endpoints.find((e) => e.specification === 'http://wiki.open311.org/GeoReport_v2');
  assert.ok(ep, 'a GeoReport v2 endpoint');
  assert.equal(ep.type, 'production');
  assert.ok(isText(ep.url) && ep.url.endsWith('/'));
  assert.ok(W3C.test(ep.changeset));
  assert.ok(ep.formats.includes('application/json') && ep.formats.includes('text/xml'));
});

test('serviceList: one realtime service per matter, with metadata', async () => {
  const list = await call('serviceList');
  assert.ok(Array.isArray(list) && list.length > 0);
  for (const s of list) {
    assert.ok(isText(s.service_code) && isText(s.service_name) && isText(s.description));
    assert.equal(s.metadata, true);
    assert.equal(s.type, 'realtime');
    assert.equal(typeof s.keywords, 'string');
    assert.ok(isText(s.group));
  }
  const want = process.env.OPEN311_SERVICE_CODE;
  state.service = want ? list.find((s) => s.service_code === want) : list[0];
  assert.ok(state.service, `service ${want} listed`);
});

test('serviceDefinition: the grid as a required singlevaluelist', async () => {
  const code = state.service.service_code;
  const def = await call('serviceDefinition', code);
  assert.equal(def.service_code, code);
  assert.ok(Array.isArray(def.attributes) && def.attributes.length > 0);
  const grid = def.attributes.find((a) => a.code === 'grid');
  assert.ok(grid, 'a grid attribute');
  assert.equal(grid.variable, true);
  assert.equal(grid.datatype, 'singlevaluelist');
  assert.equal(grid.required, true);
  assert.equal(typeof grid.order, 'number');
  assert.ok(isText(grid.description));
  assert.ok(Array.isArray(grid.values) && grid.values.length > 0);
  for (const v of grid.values) assert.ok(isText(v.key) && isText(v.name));
  for (const a of def.attributes) {
    assert.ok(['string', 'number', 'datetime', 'text', 'singlevaluelist', 'multivaluelist']
      .includes(a.datatype), `datatype ${a.datatype}`);
  }
  state.grid = grid.values[0].key;
});

test('serviceDefinition of an unknown code: the spec error, not a definition', async () => {
  await assert.rejects(call('serviceDefinition', 'no-such-service'));
  const r = await rawGet('services/no-such-service.json');
  assert.equal(r.status, 404);
  const errors = JSON.parse(r.body);
  assert.ok(Array.isArray(errors) && errors.length > 0);
  assert.equal(errors[0].code, 404);
  assert.ok(errors[0].description.includes('service_code'), errors[0].description);
});

test('submitRequest: answered with the case id', async () => {
  const res = await call('submitRequest', {
    service_code: state.service.service_code,
    lat: 30.5123,
    long: 117.0456,
    address_string: '人民路 12 号',
    description: 'node-open311 says hello: 占道经营 ' + Date.now(),
    email: 'resident@example.org',
    first_name: 'Li',
    last_name: 'Si',
    phone: '0556-1234567',
    attributes: {grid: state.grid},
  });
  assert.ok(Array.isArray(res) && res.length === 1, JSON.stringify(res));
  assert.ok(isText(res[0].service_request_id), JSON.stringify(res));
  assert.ok('service_notice' in res[0]);
  state.id = res[0].service_request_id;
  // for the caller (tests/e2e/test_open311_client.py) to find the case on whistle's side
  console.log(`service_request_id=${state.id}`);
});

test('token: maps to the service request', async () => {
  const res = await call('token', state.id);
  assert.ok(Array.isArray(res) && res.length === 1, JSON.stringify(res));
  assert.equal(res[0].service_request_id, state.id);
  assert.ok(isText(String(res[0].token)));
});

test('serviceRequest(id): requests/{id}.json, every field, W3C datetimes with a zone',
  async () => {
    const res = await call('serviceRequest', state.id);
    assert.ok(Array.isArray(res) && res.length === 1, JSON.stringify(res));
    checkRequest(res[0]);
    assert.equal(res[0].service_request_id, state.id);
    assert.equal(res[0].service_code, state.service.service_code);
    assert.equal(res[0].status, 'open');
    assert.ok(Math.abs(res[0].lat - 30.5123) < 1e-6 && Math.abs(res[0].long - 117.0456) < 1e-6);
    assert.equal(res[0].address, '人民路 12 号');
    const raw = JSON.parse((await rawGet(`requests/${state.id}.json`)).body)[0];
    assert.ok(W3C.test(raw.requested_datetime), raw.requested_datetime);
    assert.ok(W3C.test(raw.updated_datetime), raw.updated_datetime);
    if (raw.expected_datetime !== null) assert.ok(W3C.test(raw.expected_datetime));
  });

test('serviceRequests([ids]): requests.json?service_request_id=', async () => {
  const res = await call('serviceRequests', [state.id], {});
  assert.ok(Array.isArray(res));
  const mine = res.find((r) => r.service_request_id === state.id);
  assert.ok(mine, `${state.id} in ${JSON.stringify(res)}`);
  checkRequest(mine);
});

test('serviceRequests(params): filters by status and service_code', async () => {
  const open = await call('serviceRequests', {
    status: 'open', service_code: state.service.service_code,
  });
  assert.ok(Array.isArray(open));
  assert.ok(open.length <= 1000);
  for (const r of open) {
    checkRequest(r);
    assert.equal(r.status, 'open');
    assert.equal(r.service_code, state.service.service_code);
  }
  assert.ok(open.some((r) => r.service_request_id === state.id), 'the new request is open');
  const closed = await call('serviceRequests', {status: 'closed'});
  assert.ok(Array.isArray(closed));
  for (const r of closed) assert.equal(r.status, 'closed');
  assert.ok(!closed.some((r) => r.service_request_id === state.id));
});

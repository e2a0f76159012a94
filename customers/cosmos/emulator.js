#!/usr/bin/env node
// Local Cosmos DB emulator for `make run` and the tests: @vercel/cosmosdb-server 1.0.1, patched in-process
// where it differs from the real service in ways our code relies on, and served with keep-alive.
//
//   node customers/cosmos/emulator.js --host 127.0.0.1 --port 8081 [--no-ssl]
//
// Prints "cosmos-emulator listening on <url>" once ready (port 0 picks a free one).
// Patches (see shared/cosmos-emulator.md):
//  1. reading a missing item (or one in another partition) answers 404, not 500;
//  2. a query sent with a partition-key header runs over that partition only;
//  3. a write that breaks a unique key answers 409, not 500;
//  4. transactional batches are all-or-nothing: 207 with the failing status and 424 for the rest, no change;
//  5. unparsable partition-key headers answer 400, not 500.
"use strict";

const path = require("path");

const lib = path.dirname(require.resolve("@vercel/cosmosdb-server"));
const load = (name) => require(path.join(lib, name));

const ops = load("handler/_document-operations");
const readItems = load("handler/_read-items").default;
const json = load("json").default;
const trueHeader = load("true-header").default;
const partitionHeader = load("utils/get-partition-from-header");
const getValue = load("utils/get-value").default;

const NOT_FOUND = { code: "NotFound", message: "Entity with the specified id does not exist in the system." };

function badRequest(res, message) {
  res.statusCode = 400;
  return { code: "BadRequest", message };
}

// The partition key value the request names, or undefined when it names none. Throws on garbage.
function headerPartition(req) {
  const raw = partitionHeader.default(req);
  if (raw === undefined) return undefined;
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    const error = new Error(`x-ms-documentdb-partitionkey is not JSON: ${raw}`);
    error.badRequest = true;
    throw error;
  }
  return Array.isArray(parsed) ? parsed[0] : parsed;
}

function partitionOf(collection, doc) {
  return getValue(collection.documents._getPartitionKeyPath(), doc);
}

// 1. Point read: 404 for a missing item or one that lives in another partition.
function readDocument(account, req, res, { dbId, collId, docId }) {
  const collection = account.database(dbId).collection(collId);
  if (!collection.read()) {
    res.statusCode = 404;
    return NOT_FOUND;
  }
  const partition = headerPartition(req);
  const doc = collection.document(docId, partition === undefined ? docId : partition).read();
  if (!doc || doc.id !== docId || (partition !== undefined && partitionOf(collection, doc) !== partition)) {
    res.statusCode = 404;
    return NOT_FOUND;
  }
  return doc;
}

// 2. Queries: with a partition-key header and no cross-partition flag, only that partition's items count.
function queryDocuments(account, req, res, { dbId, collId }) {
  return readItems(req, res, "Documents", async ({ continuation, maxItemCount }) => {
    const body = await json(req);
    if (!body || !body.query) return badRequest(res, "missing query");
    const collection = account.database(dbId).collection(collId);
    const parent = collection.read();
    if (!parent) return null;
    const partition = trueHeader(req, "x-ms-documentdb-query-enablecrosspartition") ? undefined : headerPartition(req);
    const items = collection.documents;
    let data = [...items._data.values()].map((item) => item.read());
    if (partition !== undefined) data = data.filter((doc) => partitionOf(collection, doc) === partition);
    try {
      return items._getQuery(body.query).exec(data, {
        parameters: body.parameters,
        udf: items._userDefinedFunctions(),
        maxItemCount,
        continuation,
        compositeIndexes: (parent.indexingPolicy && parent.indexingPolicy.compositeIndexes) || [],
      });
    } catch (err) {
      err.badRequest = true;
      throw err;
    }
  });
}

// Records every change to an Items store while `work` runs, so a failed batch can be undone exactly
// (same etags, same _ts) rather than approximately.
function withUndo(items, work) {
  const journal = [];
  const maps = [items._data, items._index];
  const ridCount = items._ridCount;
  for (const map of maps) {
    map.set = (key, value) => {
      journal.push([map, key, map.has(key), map.get(key)]);
      return Map.prototype.set.call(map, key, value);
    };
    map.delete = (key) => {
      journal.push([map, key, map.has(key), map.get(key)]);
      return Map.prototype.delete.call(map, key);
    };
  }
  const undo = () => {
    for (const [map, key, had, previous] of journal.reverse()) {
      if (had) Map.prototype.set.call(map, key, previous);
      else Map.prototype.delete.call(map, key);
    }
    items._ridCount = ridCount;
  };
  try {
    return work(undo);
  } finally {
    for (const map of maps) {
      delete map.set;
      delete map.delete;
    }
  }
}

const BATCH_OPERATIONS = {
  Create: ops.createOperation,
  Upsert: ops.upsertOperation,
  Replace: ops.replaceOperation,
  Read: ops.readOperation,
  Delete: ops.deleteOperation,
};

function runOperation(collection, input, partition) {
  const operation = BATCH_OPERATIONS[input && input.operationType];
  if (!operation) {
    return { statusCode: 400, body: { message: `Operation type '${input && input.operationType}' is not supported in Batch.` } };
  }
  const body = input.resourceBody;
  if (body && partitionOf(collection, body) !== partition) {
    return { statusCode: 400, body: { message: "The document's partition key differs from the batch's." } };
  }
  if (input.operationType === "Replace" && body && input.id !== body.id) {
    return { statusCode: 400, body: { message: "replacing id is not allowed" } };
  }
  try {
    return operation(collection, { ...input, partitionKey: JSON.stringify([partition]) }) || { statusCode: 204 };
  } catch (err) {
    if (err.conflict) return { statusCode: 409, body: { code: "Conflict", message: err.message } };
    if (err.badRequest) return { statusCode: 400, body: { code: "BadRequest", message: err.message } };
    throw err;
  }
}

// 4. Transactional batch, as the service does it: all operations in one partition apply, or none does.
// Everything between reading the body and answering is synchronous, so no other request interleaves.
async function batchDocuments(account, req, res, { dbId, collId }) {
  const body = await json(req);
  const collection = account.database(dbId).collection(collId);
  if (!collection.read()) {
    res.statusCode = 404;
    return NOT_FOUND;
  }
  if (!Array.isArray(body) || body.length === 0 || body.length > 100) {
    return badRequest(res, "A batch is a list of 1 to 100 operations.");
  }
  const partition = headerPartition(req);
  if (partition === undefined) return badRequest(res, "A batch needs the x-ms-documentdb-partitionkey header.");
  return withUndo(collection.documents, (undo) => {
    const results = [];
    for (const input of body) {
      const result = runOperation(collection, input, partition);
      if (result.statusCode >= 400) {
        undo();
        res.statusCode = 207;
        return body.map((_, index) =>
          index === results.length
            ? { statusCode: result.statusCode, requestCharge: 0, resourceBody: result.body }
            : { statusCode: 424, requestCharge: 0 },
        );
      }
      results.push(result);
    }
    return results.map((result) => ({
      statusCode: result.statusCode,
      requestCharge: 1,
      eTag: result.body ? result.body._etag : undefined,
      resourceBody: result.body,
    }));
  });
}

// 3 and 5. Any handler: a unique-key conflict is 409 and a malformed request is 400, never a 500.
function guarded(handler) {
  return async (account, req, res, params) => {
    try {
      return await handler(account, req, res, params);
    } catch (err) {
      if (err && err.conflict) {
        res.statusCode = 409;
        return { code: "Conflict", message: err.message };
      }
      if (err && (err.badRequest || /Failed to parse|is not JSON|Unexpected token|JSON/.test(String(err.message)))) {
        return badRequest(res, err.message);
      }
      throw err;
    }
  };
}

// The route table captures each handler when routes.js loads, so replace them before it does.
const replacements = {
  "handler/read-document": readDocument,
  "handler/query-documents": queryDocuments,
  "handler/batch-documents": batchDocuments,
};
for (const name of [
  "handler/read-document",
  "handler/query-documents",
  "handler/batch-documents",
  "handler/create-document",
  "handler/upsert-document",
  "handler/replace-document",
  "handler/delete-document",
  "handler/patch-document",
]) {
  const mod = load(name);
  mod.default = guarded(replacements[name] || mod.default);
}

const { createHttpServer, createHttpsServer } = require("@vercel/cosmosdb-server");

function parseArgs(argv) {
  const options = { host: "127.0.0.1", port: 8081, ssl: true };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--host") options.host = argv[++i];
    else if (argv[i] === "--port" || argv[i] === "-p") options.port = Number(argv[++i]);
    else if (argv[i] === "--no-ssl") options.ssl = false;
    else {
      process.stderr.write(`unknown argument ${argv[i]}\n`);
      process.exit(2);
    }
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
const server = (options.ssl ? createHttpsServer : createHttpServer)({ keepAlive: true });
server.keepAliveTimeout = 60000;
server.listen(options.port, options.host, () => {
  const { port } = server.address();
  process.stdout.write(`cosmos-emulator listening on ${options.ssl ? "https" : "http"}://${options.host}:${port}\n`);
});
function stop() {
  server.close(() => process.exit(0));
  // Idle keep-alive connections would hold close() open; nothing in memory is worth waiting for.
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

#!/usr/bin/env node
// Local Cosmos DB emulator for `make run` and the tests: @vercel/cosmosdb-server 1.0.1, patched in-process
// where it differs from the real service in ways our code relies on, and served with keep-alive.
//
//   node customers/cosmos/emulator.js --host 127.0.0.1 --port 8081 [--no-ssl] [--data-dir DIR [--compact-mb 64]]
//
// Prints "cosmos-emulator listening on <url>" once ready (port 0 picks a free one).
// Patches (see shared/cosmos-emulator.md):
//  1. reading a missing item (or one in another partition) answers 404, not 500;
//  2. a query sent with a partition-key header runs over that partition only, and reads only that partition's
//     items (an index by partition), so its cost does not grow with the rest of the container, as the service's;
//  3. a write that breaks a unique key answers 409, not 500;
//  4. transactional batches are all-or-nothing: 207 with the failing status and 424 for the rest, no change;
//  5. unparsable partition-key headers answer 400, not 500.
// Without --data-dir everything lives in memory and is gone on exit (what the tests want). With it the state is
// durable: see "Durability" below.
"use strict";

const fs = require("fs");
const fsp = require("fs/promises");
const path = require("path");
const zlib = require("zlib");

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

// The items of each partition, by _rid: built on a store's first partition query, then kept by _set and delete.
// The package copies every item of a container for each query: one customer's orders query walked every
// customer's orders, returns and ledger, slower with each return a run filed. Dropped where maps change beneath
// it (a failed batch's undo) and built again on the next query.
function installPartitionIndex() {
  const setItem = Items.prototype._set;
  Items.prototype._set = function _set(data) {
    const result = setItem.call(this, data);
    if (this._byPartition) indexItem(this, data);
    return result;
  };
  const deleteItem = Items.prototype.delete;
  Items.prototype.delete = function remove(idOrRid, partition) {
    const data = this._byPartition && this._item("/id", idOrRid, partition).read();
    const result = deleteItem.call(this, idOrRid, partition);
    if (data) {
      const key = this._getPartition(data);
      const rids = this._byPartition.get(key);
      if (rids && rids.delete(data._rid) && rids.size === 0) this._byPartition.delete(key);
    }
    return result;
  };
}

function indexItem(items, data) {
  const key = items._getPartition(data);
  let rids = items._byPartition.get(key);
  if (!rids) items._byPartition.set(key, (rids = new Set()));
  rids.add(data._rid);
}

function partitionItems(items, partition) {
  if (!items._byPartition) {
    items._byPartition = new Map();
    for (const item of items._data.values()) indexItem(items, item.read());
  }
  const rids = [...(items._byPartition.get(partition) || [])];
  return rids.map((rid) => items._data.get(rid)).filter(Boolean).map((item) => item.read());
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
    const data =
      partition === undefined ? [...items._data.values()].map((item) => item.read()) : partitionItems(items, partition);
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
    items._byPartition = undefined; // built again from the restored maps on the next partition query
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


// ---------------------------------------------------------------------------------------------------------------
// Durability (--data-dir DIR)
//
// The package keeps every resource in `Items` stores (account -> databases -> collections -> documents and UDFs),
// keyed by _rid, and every change to one goes through Items#_set or Items#delete. Those two are hooked to note
// which (store, _rid) pairs changed. A flusher then appends one journal line holding the after-image of every
// changed resource (stored verbatim, system properties included, so etags and _ts survive) and fsyncs it; a
// request is answered only once everything it may have written or seen is on disk. Lines are taken between
// requests (JS runs one request's synchronous part at a time, and every handler mutates synchronously), so a
// line never holds half of a replace or of a batch: it is one atomic step, and a torn line is simply dropped.
//
// Files in DIR, each line "<crc32 hex> <json>\n":
//   journal   {"n": seq, "r": [records]}                         appended, fsynced before the answer
//   snapshot  {"snapshot": 1, "upto": seq}, {"r": [records]}..., {"end": count}   written to snapshot.tmp,
//             fsynced, renamed; then the journal is truncated. Lines with n <= upto are already in it, so a
//             crash between rename and truncate replays the same state.
//   LOCK      the pid of the emulator using DIR
// A record {"p": store path, "c": the store's rid counter, "d": [rids gone], "u": [resources as stored]} sets
// those rids to exactly that state; replaying one twice is harmless. Paths: [] databases, [db] its collections,
// [db, coll, "docs" | "udfs"] (rids, not ids). Parents come before children within a line.

const Items = load("account/items").default;
const Databases = load("account/databases").default;
const Collections = load("account/collections").default;
const accountModule = load("account");
const BaseAccount = accountModule.default;

const DOCUMENTS_PER_SNAPSHOT_LINE = 1000;

function encodeLine(value) {
  const body = Buffer.from(JSON.stringify(value));
  const crc = zlib.crc32(body).toString(16).padStart(8, "0");
  return Buffer.concat([Buffer.from(`${crc} `), body, Buffer.from("\n")]);
}

// Every intact line of a file, and where the intact part ends. Damage is accepted only at the very end (the one
// write that a crash can tear, since each flush is one write followed by fsync); damage with intact lines after
// it is corruption, and we refuse to guess.
function readLines(file) {
  let buffer;
  try {
    buffer = fs.readFileSync(file);
  } catch (err) {
    if (err.code === "ENOENT") return { values: [], intactBytes: 0, size: 0 };
    throw err;
  }
  const values = [];
  let offset = 0;
  const decode = (start) => {
    const end = buffer.indexOf(10, start);
    if (end === -1 || end - start < 10 || buffer[start + 8] !== 32) return { end };
    const body = buffer.subarray(start + 9, end);
    if (zlib.crc32(body).toString(16).padStart(8, "0") !== buffer.toString("latin1", start, start + 8)) return { end };
    try {
      return { end, value: JSON.parse(body.toString()) };
    } catch (err) {
      return { end };
    }
  };
  while (offset < buffer.length) {
    const { end, value } = decode(offset);
    if (value === undefined) {
      for (let next = end; next !== -1 && next + 1 < buffer.length; next = buffer.indexOf(10, next + 1)) {
        if (decode(next + 1).value !== undefined) {
          throw new Error(`${file} is damaged at byte ${offset} with intact lines after it; refusing to guess`);
        }
      }
      break;
    }
    values.push(value);
    offset = end + 1;
  }
  return { values, intactBytes: offset, size: buffer.length };
}

function resolveStore(account, storePath) {
  if (storePath.length === 0) return account.databases;
  const database = account.databases._data.get(storePath[0]);
  if (!database) return undefined;
  if (storePath.length === 1) return database.collections;
  const collection = database.collections._data.get(storePath[1]);
  if (!collection) return undefined;
  return storePath[2] === "udfs" ? collection.userDefinedFunctions : collection.documents;
}

function applyRecords(account, records) {
  for (const { p, c, d, u } of records) {
    const store = resolveStore(account, p);
    if (!store) throw new Error(`a record names a store whose parent is missing: ${JSON.stringify(p)}`);
    // Remove every named rid first: a put re-indexes its unique keys, which a stale version would still hold.
    for (const rid of [...d, ...u.map((item) => item._rid)]) {
      if (store._data.has(rid)) store.delete(rid);
    }
    for (const item of u) {
      store._set(item);
      // eslint-disable-next-line no-new-func -- the package compiles UDF bodies the same way
      if (store.functions) store.functions[item.id] = new Function(`"use strict";return (${item.body})`)();
    }
    store._ridCount = c;
  }
}

function* storeRecords(store) {
  const items = [...store._data.values()].map((item) => item.read());
  for (let start = 0; start === 0 || start < items.length; start += DOCUMENTS_PER_SNAPSHOT_LINE) {
    yield { p: store.journalPath, c: store._ridCount, d: [], u: items.slice(start, start + DOCUMENTS_PER_SNAPSHOT_LINE) };
  }
}

function* snapshotRecords(account) {
  yield* storeRecords(account.databases);
  for (const database of account.databases._data.values()) {
    yield* storeRecords(database.collections);
    for (const collection of database.collections._data.values()) {
      yield* storeRecords(collection.documents);
      yield* storeRecords(collection.userDefinedFunctions);
    }
  }
}

async function syncDirectory(dir) {
  const handle = await fsp.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// Is `pid` a live emulator? (Not a zombie, and not another program that got the pid of one that died.)
function emulatorAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === "EPERM";
  }
  try {
    if (/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "latin1"))) return false;
    return fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(path.basename(__filename));
  } catch (err) {
    return true; // no /proc to ask: assume the worst
  }
}

class DurableStore {
  constructor(dir, compactBytes) {
    this.dir = path.resolve(dir);
    this.journalFile = path.join(this.dir, "journal");
    this.snapshotFile = path.join(this.dir, "snapshot");
    this.lockFile = path.join(this.dir, "LOCK");
    this.compactBytes = compactBytes;
    this.account = null;
    this.replaying = false;
    this.dirty = new Map(); // store -> Set of rids changed since the last line was taken
    this.changes = 0; // changes noted so far ...
    this.durableChanges = 0; // ... and how many of them are on disk
    this.waiters = [];
    this.seq = 0;
    this.journalBytes = 0;
    this.handle = null;
    this.flushing = false;
    this.kickQueued = false;
    this.closed = false;
  }

  lock() {
    fs.mkdirSync(this.dir, { recursive: true });
    for (;;) {
      try {
        fs.writeFileSync(this.lockFile, `${process.pid}\n`, { flag: "wx" });
        return;
      } catch (err) {
        if (err.code !== "EEXIST") throw err;
      }
      const pid = Number.parseInt(fs.readFileSync(this.lockFile, "utf8"), 10);
      if (pid && pid !== process.pid && emulatorAlive(pid)) {
        throw new Error(`${this.dir} is in use by another emulator (pid ${pid}); stop it first`);
      }
      fs.rmSync(this.lockFile, { force: true }); // left by an emulator that died
    }
  }

  unlock() {
    try {
      if (Number.parseInt(fs.readFileSync(this.lockFile, "utf8"), 10) === process.pid) fs.rmSync(this.lockFile);
    } catch (err) {
      // already gone
    }
  }

  // Rebuilds `account` from the snapshot and the journal; runs before the port opens.
  async restore(account) {
    const started = process.hrtime.bigint();
    this.lock();
    this.account = account;
    fs.rmSync(`${this.snapshotFile}.tmp`, { force: true }); // a compaction that never finished
    this.replaying = true;
    let upto = 0;
    const snapshot = readLines(this.snapshotFile);
    if (snapshot.size > 0) {
      const [header, ...rest] = snapshot.values;
      const end = rest.pop();
      if (snapshot.intactBytes !== snapshot.size || !header || header.snapshot !== 1 || !end || end.end !== rest.length) {
        throw new Error(`${this.snapshotFile} is incomplete or damaged`); // it is renamed into place whole
      }
      upto = header.upto;
      for (const line of rest) applyRecords(account, line.r);
    }
    const journal = readLines(this.journalFile);
    let replayed = 0;
    for (const line of journal.values) {
      if (line.n <= upto) continue; // already in the snapshot (a crash between its rename and the truncate)
      applyRecords(account, line.r);
      replayed += 1;
    }
    this.seq = journal.values.reduce((seq, line) => Math.max(seq, line.n), upto);
    this.replaying = false;
    const torn = journal.size - journal.intactBytes;
    const documents = [...account.databases._data.values()]
      .flatMap((database) => [...database.collections._data.values()])
      .reduce((count, collection) => count + collection.documents._data.size, 0);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    process.stdout.write(
      `cosmos-emulator restored ${documents} documents in ${account.databases._data.size} databases from ${this.dir}` +
        ` (${replayed} journal lines replayed${torn ? `, a torn last line of ${torn} bytes ignored` : ""})` +
        ` in ${ms.toFixed(0)} ms\n`,
    );
    this.handle = await fsp.open(this.journalFile, "a");
    this.journalBytes = journal.size;
    await syncDirectory(this.dir);
    if (journal.size > 0) await this.compact(); // start from a snapshot and an empty journal (drops a torn tail)
  }

  touched(store, rid) {
    if (this.replaying || !store.journalPath || rid === undefined) return;
    let rids = this.dirty.get(store);
    if (!rids) this.dirty.set(store, (rids = new Set()));
    rids.add(rid);
    this.changes += 1;
    // Not now: we may be halfway through a replace or a batch. A microtask runs once this request's
    // synchronous part is over, when the state is whole again.
    if (!this.kickQueued) {
      this.kickQueued = true;
      queueMicrotask(() => {
        this.kickQueued = false;
        this.kick();
      });
    }
  }

  // Resolves once every change made so far is on disk.
  durable() {
    if (this.durableChanges >= this.changes) return Promise.resolve();
    const target = this.changes;
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }

  kick() {
    // After close, nothing more is written: such requests are never answered, and the process is about to exit.
    if (this.flushing || this.closed || this.dirty.size === 0) return;
    this.flushing = true;
    this.flushLoop().catch((err) => {
      // Memory and disk can no longer be trusted to agree: stop, and let a restart replay what is on disk.
      process.stderr.write(`cosmos-emulator: cannot write ${this.journalFile}: ${err.stack || err}\n`);
      process.exit(1);
    });
  }

  takeLine() {
    const records = [];
    for (const [store, rids] of this.dirty) {
      // A store no longer reachable went with its database or collection, whose own record says so.
      if (resolveStore(this.account, store.journalPath) !== store) continue;
      const record = { p: store.journalPath, c: store._ridCount, d: [], u: [] };
      for (const rid of rids) {
        const item = store._data.get(rid);
        if (item) record.u.push(item.read());
        else record.d.push(rid);
      }
      records.push(record);
    }
    this.dirty = new Map();
    if (records.length === 0) return null;
    records.sort((a, b) => a.p.length - b.p.length);
    this.seq += 1;
    return encodeLine({ n: this.seq, r: records });
  }

  async flushLoop() {
    while (this.dirty.size > 0) {
      const target = this.changes;
      const line = this.takeLine(); // every change so far, taken at once: one group commit
      if (line) {
        await this.handle.writeFile(line);
        await this.handle.datasync();
        this.journalBytes += line.length;
      }
      this.durableChanges = target;
      const done = this.waiters.filter((waiter) => waiter.target <= target);
      this.waiters = this.waiters.filter((waiter) => waiter.target > target);
      for (const waiter of done) waiter.resolve();
      if (this.journalBytes > this.compactBytes) await this.compact();
    }
    this.flushing = false; // in the same synchronous step as the last check, so no change can slip between
  }

  // Snapshot of the whole state, then an empty journal. The state is read in one synchronous step, so it is
  // whole; changes made while the file is written get journal lines after `upto` and are replayed on top.
  async compact() {
    const started = process.hrtime.bigint();
    const upto = this.seq;
    const lines = [encodeLine({ snapshot: 1, upto })];
    for (const record of snapshotRecords(this.account)) lines.push(encodeLine({ r: [record] }));
    lines.push(encodeLine({ end: lines.length - 1 }));
    const tmp = `${this.snapshotFile}.tmp`;
    const handle = await fsp.open(tmp, "w");
    let bytes = 0;
    try {
      for (let start = 0; start < lines.length; start += 256) {
        const chunk = Buffer.concat(lines.slice(start, start + 256));
        await handle.writeFile(chunk);
        bytes += chunk.length;
      }
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, this.snapshotFile);
    await syncDirectory(this.dir);
    const journalBytes = this.journalBytes;
    await this.handle.truncate(0);
    await this.handle.datasync();
    this.journalBytes = 0;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    process.stdout.write(
      `cosmos-emulator compacted: snapshot of ${bytes} bytes up to journal line ${upto}` +
        ` (journal was ${journalBytes} bytes) in ${ms.toFixed(0)} ms\n`,
    );
  }

  // Graceful stop: let the flush in progress finish (its requests are waiting for it), then let go of DIR.
  async close() {
    while (this.flushing || this.dirty.size > 0) {
      this.kick();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.closed = true;
    if (this.handle) await this.handle.close();
    this.handle = null;
    this.unlock();
  }
}

// Hooks: note every change, and give each store its path so a line can name it.
function installDurability(store) {
  const setItem = Items.prototype._set;
  Items.prototype._set = function _set(data) {
    const result = setItem.call(this, data);
    store.touched(this, data && data._rid);
    return result;
  };
  const deleteItem = Items.prototype.delete;
  Items.prototype.delete = function remove(idOrRid, partition) {
    const data = this._item("/id", idOrRid, partition).read();
    const result = deleteItem.call(this, idOrRid, partition);
    store.touched(this, data && data._rid);
    return result;
  };
  const newDatabase = Databases.prototype._newItem;
  Databases.prototype._newItem = function _newItem(data) {
    const database = newDatabase.call(this, data);
    if (data) database.collections.journalPath = [data._rid];
    return database;
  };
  const newCollection = Collections.prototype._newItem;
  Collections.prototype._newItem = function _newItem(data) {
    const collection = newCollection.call(this, data);
    if (data && this.journalPath) {
      collection.documents.journalPath = [...this.journalPath, data._rid, "docs"];
      collection.userDefinedFunctions.journalPath = [...this.journalPath, data._rid, "udfs"];
    }
    return collection;
  };
  // No answer leaves before what the request wrote, or read, is on disk. Reads wait too, or a client could
  // act on a write that a crash then takes back.
  for (const file of fs.readdirSync(path.join(lib, "handler"))) {
    if (!file.endsWith(".js") || file.startsWith("_")) continue;
    const mod = load(`handler/${file}`);
    const handler = mod.default;
    mod.default = async (...args) => {
      try {
        return await handler(...args);
      } finally {
        await store.durable();
      }
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { host: "127.0.0.1", port: 8081, ssl: true, dataDir: null, compactMb: 64 };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--host") options.host = argv[++i];
    else if (argv[i] === "--port" || argv[i] === "-p") options.port = Number(argv[++i]);
    else if (argv[i] === "--no-ssl") options.ssl = false;
    else if (argv[i] === "--data-dir") options.dataDir = argv[++i];
    else if (argv[i] === "--compact-mb") options.compactMb = Number(argv[++i]);
    else {
      process.stderr.write(`unknown argument ${argv[i]}\n`);
      process.exit(2);
    }
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  installPartitionIndex();
  let store = null;
  if (options.dataDir) {
    store = new DurableStore(options.dataDir, options.compactMb * 1024 * 1024);
    installDurability(store);
    const restored = new BaseAccount(options.host, options.port);
    restored.databases.journalPath = [];
    await store.restore(restored);
    // The package makes its account when the port is bound; hand it the restored databases.
    accountModule.default = function DurableAccount(host, port) {
      const account = new BaseAccount(host, port);
      account.databases = restored.databases;
      account.databases._parent = account;
      store.account = account;
      return account;
    };
  }
  // Loaded only now: the route table captures each handler when it loads.
  const { createHttpServer, createHttpsServer } = require("@vercel/cosmosdb-server");
  const server = (options.ssl ? createHttpsServer : createHttpServer)({ keepAlive: true });
  server.keepAliveTimeout = 60000;
  server.listen(options.port, options.host, () => {
    const { port } = server.address();
    process.stdout.write(`cosmos-emulator listening on ${options.ssl ? "https" : "http"}://${options.host}:${port}\n`);
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Idle keep-alive connections would hold close() open; answers in flight still get their flush.
    setTimeout(() => process.exit(0), 5000).unref();
    server.close();
    server.closeIdleConnections();
    if (store) await store.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  // The reason last, where a supervisor quoting the log's last line finds it.
  process.stderr.write(`${err.stack || err}\ncosmos-emulator did not start: ${err.message || err}\n`);
  process.exit(1);
});

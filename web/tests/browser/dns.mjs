// A DNS server on 127.0.0.1 (UDP) that answers TXT questions from a table
// the walk fills, so the console's domain verification runs against a real
// resolver (`strata dev` with `sso_dns_server` pointed here). Every other
// name is NXDOMAIN; other types get an empty answer.
import { createSocket } from "node:dgram";

const TYPE_TXT = 16;
const CLASS_IN = 1;

/** Reads the question's name; returns it (lower case, no trailing dot) and where the question's type starts. */
function readName(message, offset) {
  const labels = [];
  for (let length = message[offset]; length !== 0; length = message[offset]) {
    if (length > 63 || offset + 1 + length > message.length) throw new Error("a compressed or truncated name in a question");
    labels.push(message.toString("latin1", offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  return { name: labels.join(".").toLowerCase(), end: offset + 1 };
}

/** One TXT record's data: each value as character strings of at most 255 bytes. */
function txtData(value) {
  const bytes = Buffer.from(value, "utf8");
  const parts = [];
  for (let at = 0; at < bytes.length || at === 0; at += 255) {
    const chunk = bytes.subarray(at, at + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

function answer(query, records) {
  const { name, end } = readName(query, 12);
  const type = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const values = records.get(name);
  const found = type === TYPE_TXT && values ? values : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, the query's opcode and RD, AA and RA; NXDOMAIN for unknown names.
  const flags = 0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | (values ? 0 : 3);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(found.length, 6);
  const rows = found.map((value) => {
    const data = txtData(value);
    const row = Buffer.alloc(12);
    row.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    row.writeUInt16BE(TYPE_TXT, 2);
    row.writeUInt16BE(CLASS_IN, 4);
    row.writeUInt32BE(1, 6); // one second, so a changed record shows soon
    row.writeUInt16BE(data.length, 10);
    return Buffer.concat([row, data]);
  });
  return Buffer.concat([header, question, ...rows]);
}

/** Starts the server; resolves with `{ address, setTxt(name, values), stop() }`. */
export async function startDns() {
  const records = new Map();
  const socket = createSocket("udp4");
  socket.on("message", (query, from) => {
    try {
      socket.send(answer(query, records), from.port, from.address);
    } catch (error) {
      console.error(`dns: a query not answered: ${error.message}`);
    }
  });
  await new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", resolve);
  });
  const { address, port } = socket.address();
  return {
    address: `${address}:${port}`,
    setTxt: (name, values) => records.set(name.toLowerCase().replace(/\.$/, ""), values),
    stop: () => socket.close(),
  };
}

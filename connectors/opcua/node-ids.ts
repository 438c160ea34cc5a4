// Node ids of the site config to the ids a session uses (pure). A `nsu=URI;` id names its
// namespace by URI, which stays stable while the index may not: it is resolved through the
// server's NamespaceArray on every new session, never once for all.

export type ResolvedNodeId = { ok: true; nodeId: string } | { ok: false; reason: string };

const nodeIdPattern = /^(?:ns=(\d+);|nsu=([^;]+);)?([isgb]=.+)$/;

export function resolveNodeId(text: string, namespaceArray: readonly string[]): ResolvedNodeId {
  const match = nodeIdPattern.exec(text);
  if (match === null) return { ok: false, reason: `"${text}" is not an OPC UA node id` };
  const [, index, uri, identifier] = match;
  if (uri === undefined) return { ok: true, nodeId: `ns=${index ?? 0};${identifier!}` };
  const namespaceIndex = namespaceArray.indexOf(uri);
  if (namespaceIndex < 0) return { ok: false, reason: `the server has no namespace "${uri}"` };
  return { ok: true, nodeId: `ns=${namespaceIndex};${identifier!}` };
}

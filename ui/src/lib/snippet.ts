// Turns a search snippet (HTML-escaped text with <mark> around matches) into plain segments the
// UI renders as text nodes, so nothing from an article is ever parsed as HTML.

export interface Segment {
  text: string;
  marked: boolean;
}

const entities: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&#39;": "'",
  "&#x27;": "'",
};

function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (entity) => entities[entity] ?? entity);
}

export function snippetSegments(snippet: string): Segment[] {
  const segments: Segment[] = [];
  const pattern = /<mark>(.*?)<\/mark>/gs;
  let last = 0;
  for (const match of snippet.matchAll(pattern)) {
    const at = match.index ?? 0;
    if (at > last) segments.push({ text: unescape(snippet.slice(last, at)), marked: false });
    segments.push({ text: unescape(match[1] ?? ""), marked: true });
    last = at + match[0].length;
  }
  if (last < snippet.length) segments.push({ text: unescape(snippet.slice(last)), marked: false });
  return segments;
}

//! The push channel: Server-Sent Events carrying entity changes, events and alarm changes,
//! each with a sequence number so that a missed message is noticed.

use model::management::{Push, PushDecodeError, PushType};

/// A push message as it arrived: its type and sequence number (from the SSE `event:` and
/// `id:` lines) and its JSON, decoded only when needed. Events and alarm changes are
/// journaled as they are, so the hot path never decodes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    pub kind: PushType,
    pub sequence: u64,
    pub data: String,
}

impl PushMessage {
    /// The whole message, decoded.
    pub fn decode(&self) -> Result<Push, PushDecodeError> {
        Push::decode(self.kind.as_str(), &self.data)
    }
}

/// The longest line or message accepted on the push channel.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Splits an SSE byte stream into messages. Bytes may arrive in any chunking.
#[derive(Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    event: String,
    data: String,
    id: Option<String>,
}

/// One SSE message before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseMessage {
    /// The push message it carries. The sequence comes from `id:` when present (decoding
    /// the JSON only when it is missing).
    pub fn into_push(self) -> Result<PushMessage, PushDecodeError> {
        let kind: PushType = self
            .event
            .parse()
            .map_err(|_| PushDecodeError::UnknownType(self.event.clone()))?;
        let sequence = match self.id.as_deref().and_then(|id| id.trim().parse().ok()) {
            Some(seq) => seq,
            None => Push::decode(&self.event, &self.data)?.sequence(),
        };
        Ok(PushMessage {
            kind,
            sequence,
            data: self.data,
        })
    }
}

impl SseParser {
    /// Feeds a chunk; returns the messages it completed. Complete lines are consumed in one
    /// pass and the unfinished tail kept, so a large chunk costs one copy, not one per line.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseMessage> {
        // The buffer is taken out while its lines are handled, so that each line is read in
        // place (valid UTF-8 is borrowed, not copied).
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.extend_from_slice(chunk);
        let mut messages = Vec::new();
        let mut start = 0;
        while let Some(offset) = buffer[start..].iter().position(|b| *b == b'\n') {
            let end = start + offset;
            let line = String::from_utf8_lossy(&buffer[start..end]);
            self.line(line.trim_end_matches('\r'), &mut messages);
            start = end + 1;
        }
        buffer.drain(..start);
        self.buffer = buffer;
        if self.buffer.len() > MAX_LINE || self.data.len() > MAX_LINE {
            // No SiPass message is this large: drop what has piled up rather than grow
            // without bound; the lost message shows as a gap in the sequence numbers.
            self.buffer.clear();
            self.data.clear();
        }
        messages
    }

    fn line(&mut self, line: &str, messages: &mut Vec<SseMessage>) {
        if line.is_empty() {
            if !self.data.is_empty() || !self.event.is_empty() {
                messages.push(SseMessage {
                    id: self.id.take(),
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            return;
        }
        if line.starts_with(':') {
            return; // a comment, e.g. keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
            }
            "id" => self.id = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_any_chunking_and_comments_are_skipped() {
        let stream = b": keep-alive\n\nid: 7\nevent: entity\ndata: {\"Sequence\":7,\"Kind\":\"Cardholder\",\"Token\":\"3\",\"Change\":\"Deleted\"}\n\nid: 8\nevent: gap\ndata: {\"From\":8,\"To\":9}\n\n";
        for chunk in [1, 3, 17, stream.len()] {
            let mut parser = SseParser::default();
            let messages: Vec<_> = stream.chunks(chunk).flat_map(|c| parser.feed(c)).collect();
            assert_eq!(messages.len(), 2, "chunk size {chunk}");
            assert_eq!(messages[0].id.as_deref(), Some("7"));
            let push = messages[0].clone().into_push().unwrap();
            assert_eq!((push.kind, push.sequence), (PushType::Entity, 7));
            assert_eq!(push.decode().unwrap().sequence(), 7);
            assert_eq!(messages[1].event, "gap");
        }
    }
}

//! A Server-Sent Events reader for tests: frames out of any stream of byte chunks.

use std::collections::VecDeque;

use futures::{Stream, StreamExt};

/// One frame: its `id`, `event` and `data` fields (data lines joined by `\n`), or a comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub comment: Option<String>,
}

impl Frame {
    /// The data as JSON (panics when it is not: a test failure).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("frame data is not JSON ({e}): {:?}", self.data))
    }
}

pub struct SseReader<S> {
    body: S,
    buffer: String,
    ready: VecDeque<Frame>,
}

impl<S, B, E> SseReader<S>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Debug,
{
    pub fn new(body: S) -> SseReader<S> {
        SseReader { body, buffer: String::new(), ready: VecDeque::new() }
    }

    /// The next frame, or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Some(frame);
            }
            let chunk = self.body.next().await?.unwrap_or_else(|e| panic!("the event stream failed: {e:?}"));
            self.buffer.push_str(std::str::from_utf8(chunk.as_ref()).unwrap_or_else(|e| panic!("not UTF-8: {e}")));
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                self.ready.push_back(parse(&block));
            }
        }
    }
}

fn parse(block: &str) -> Frame {
    let mut frame = Frame::default();
    let mut data = Vec::new();
    // The blank line that ends the frame is no field (a comment line starts with ':').
    for line in block.lines().filter(|line| !line.is_empty()) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "" => frame.comment = Some(value.to_owned()),
            "id" => frame.id = Some(value.to_owned()),
            "event" => frame.event = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    frame.data = data.join("\n");
    frame
}

//! The output guard on a stream already in the client's format (OpenAI
//! chunks or Anthropic events): each text run (a choice's content, a tool
//! call's arguments, a content block) keeps back only what could still be
//! the start of a match, and releases the rest at once. Held text goes out
//! in an event shaped like the run's last one, before the next event that
//! carries no text (a finish, a block stop, `[DONE]`) or at the end. A block
//! ends the stream with an error event in the client's format; nothing of
//! the blocked text was released before it.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use crate::error::GatewayError;
use crate::guardrails::{rewrite_strings, Blocked, Channel, Checker, Direction};
use crate::ports::MaybeSend;
use crate::stream::sse::{Decoder, Event};
use crate::stream::BodyStream;

/// How the client's format renders an error event.
pub type ErrorEvent = fn(&GatewayError) -> Bytes;

/// Where a stream's access log line waits for its output guard's counts:
/// the relay under the guard reports its end (and the settler would write
/// the line) before the guard has checked the text it still holds.
#[derive(Default)]
pub struct OutputCounts(Mutex<Slot>);

#[cfg(not(target_arch = "wasm32"))]
type LogFn = Box<dyn FnOnce(&str) + Send>;
#[cfg(target_arch = "wasm32")]
type LogFn = Box<dyn FnOnce(&str)>;

#[derive(Default)]
struct Slot {
    guarded: bool,
    report: Option<String>,
    waiting: Option<LogFn>,
}

impl std::fmt::Debug for OutputCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputCounts")
    }
}

impl OutputCounts {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `log` with the guard's `set:detector=count` pairs: at once when
    /// no guard was put on the stream or it has ended, else when it ends.
    pub fn log_after(&self, log: impl FnOnce(&str) + MaybeSend + 'static) {
        let mut slot = self.slot();
        if slot.guarded && slot.report.is_none() {
            slot.waiting = Some(Box::new(log));
            return;
        }
        let report = slot.report.take().unwrap_or_default();
        drop(slot);
        log(&report);
    }

    fn deliver(&self, report: String) {
        let mut slot = self.slot();
        match slot.waiting.take() {
            Some(log) => {
                drop(slot);
                log(&report);
            }
            None => slot.report = Some(report),
        }
    }
}

struct Run {
    channel: Channel,
    held: String,
    /// The end of what the run released: the next check's left context.
    left: String,
    /// The run's last event (name, data), the shape its held text goes out in.
    template: (Option<Bytes>, Bytes),
}

struct Guard {
    checker: Checker,
    decoder: Decoder,
    runs: Vec<Run>,
    error_event: ErrorEvent,
    done: bool,
    counts: Option<Arc<OutputCounts>>,
}

/// Hands the guard's counts to the log line however the stream ends: at
/// its end, or when the client drops it.
impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(counts) = self.counts.take() {
            counts.deliver(self.checker.report());
        }
    }
}

pub fn guard_stream(
    inner: BodyStream,
    checker: Checker,
    error_event: ErrorEvent,
    counts: Option<Arc<OutputCounts>>,
) -> BodyStream {
    if let Some(c) = &counts {
        c.slot().guarded = true;
    }
    let guard = Guard {
        checker,
        decoder: Decoder::new(),
        runs: Vec::new(),
        error_event,
        done: false,
        counts,
    };
    Box::pin(futures::stream::unfold(
        (inner, guard),
        |(mut inner, mut guard)| async move {
            use futures::StreamExt;
            loop {
                if guard.done {
                    return None;
                }
                let out = match inner.next().await {
                    Some(chunk) => guard.push(&chunk),
                    None => guard.end(),
                };
                if !out.is_empty() {
                    return Some((out.freeze(), (inner, guard)));
                }
            }
        },
    ))
}

impl Guard {
    fn push(&mut self, chunk: &[u8]) -> BytesMut {
        self.decoder.push(chunk);
        let mut out = BytesMut::new();
        while let Some(event) = self.decoder.next_event() {
            if let Err(blocked) = self.on_event(event, &mut out) {
                self.block(blocked, &mut out);
                break;
            }
        }
        out
    }

    fn end(&mut self) -> BytesMut {
        let mut out = BytesMut::new();
        let tail = self.decoder.finish();
        let result = match tail {
            Some(event) => self.on_event(event, &mut out),
            None => Ok(()),
        }
        .and_then(|()| self.flush(&mut out));
        if let Err(blocked) = result {
            self.block(blocked, &mut out);
        }
        self.done = true;
        out
    }

    fn block(&mut self, blocked: Blocked, out: &mut BytesMut) {
        out.extend_from_slice(&(self.error_event)(&blocked.into_error(Direction::Output)));
        self.done = true;
    }

    fn on_event(&mut self, event: Event, out: &mut BytesMut) -> Result<(), Blocked> {
        if !event.data.starts_with(b"{") {
            // `[DONE]`, keep-alives: the end of every run.
            self.flush(out)?;
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        // A named event that is not a delta (Responses' `….done` and
        // `response.completed`) carries whole values, repeating the text
        // its deltas streamed: checked whole after the runs are released,
        // and not counted again.
        let whole = event
            .event
            .as_deref()
            .is_some_and(|name| !name.ends_with(b"delta"));
        if whole {
            self.flush(out)?;
        }
        let mut texts = 0;
        let runs = &mut self.runs;
        let checker = &mut self.checker;
        let rewritten = rewrite_strings(&event.data, true, &mut |channel, text| {
            if whole {
                return checker.check_uncounted(text);
            }
            texts += 1;
            let i = match runs.iter().position(|r| r.channel == channel) {
                Some(i) => i,
                None => {
                    runs.push(Run {
                        channel,
                        held: String::new(),
                        left: String::new(),
                        template: (None, Bytes::new()),
                    });
                    runs.len() - 1
                }
            };
            let run = &mut runs[i];
            run.template = (event.event.clone(), event.data.clone());
            run.held.push_str(text);
            let (release, masked) = checker.check_part(&mut run.left, &run.held, false)?;
            let released = masked.unwrap_or_else(|| run.held[..release].to_owned());
            run.held.drain(..release);
            Ok((released != text).then_some(released))
        })?;
        let Ok(rewritten) = rewritten else {
            // An event the guard cannot read cannot be vouched for.
            return Err(Blocked {
                set: self.checker.first_set(),
                kind: None,
            });
        };
        if texts == 0 {
            self.flush(out)?;
        }
        match rewritten {
            None => out.extend_from_slice(&event.raw),
            Some(data) => frame(out, event.event.as_deref(), &data),
        }
        Ok(())
    }

    /// Releases every run's held text, each in an event shaped like its last.
    fn flush(&mut self, out: &mut BytesMut) -> Result<(), Blocked> {
        for run in &mut self.runs {
            if run.held.is_empty() {
                continue;
            }
            let held = std::mem::take(&mut run.held);
            let (_, masked) = self.checker.check_part(&mut run.left, &held, true)?;
            let text = masked.unwrap_or(held);
            let (name, data) = &run.template;
            let channel = run.channel;
            let filled = rewrite_strings(data, true, &mut |c, _| {
                Ok(Some(if c == channel {
                    text.clone()
                } else {
                    String::new()
                }))
            });
            if let Ok(Ok(Some(data))) = filled {
                frame(out, name.as_deref(), &data);
            }
        }
        Ok(())
    }
}

fn frame(out: &mut BytesMut, name: Option<&[u8]>, data: &[u8]) {
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name);
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

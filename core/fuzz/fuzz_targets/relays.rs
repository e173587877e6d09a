//! Upstream streams through the relays the gateway runs them with, driven by
//! `stream::drive` over in-memory ports: the OpenAI and Anthropic
//! same-format passthrough relays, and the translate driver from every
//! codec's stream decoder to either client format.
//!
//! Input: relay byte, split byte (bit 6: the connection breaks at the end),
//! then the upstream body. Whatever the upstream sends, the client must get
//! whole SSE events ending in the format's own end or error event.

#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use dx_core::codec::{DecodeContext, StreamDecoder};
use dx_core::ingress::anthropic_messages::EventRenderer;
use dx_core::ingress::openai_chat::ChunkRenderer;
use dx_core::ports::{ByteStream, TransportError};
use dx_core::relays::translate::TranslateState;
use dx_core::relays::{anthropic_relay, openai_relay};
use dx_core::stream::{drive, OnDone, Relay, StreamOutcome};
use dx_core::Codec;
use dx_fuzz::{
    bedrock_frames, check_client_stream, deployments, pieces, FakePorts, Input, Upstream,
};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, PartialEq)]
enum Client {
    OpenAi,
    Anthropic,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kind = input.byte();
    let split = input.byte();
    let body = input.rest();
    let n = deployments().len();
    let k = usize::from(kind) % (2 + 2 * n);
    let (codec, body) = match k.checked_sub(2).map(|i| &deployments()[i / 2]) {
        Some((Codec::Bedrock, _)) if kind & 0x80 != 0 => {
            (Some(Codec::Bedrock), bedrock_frames(body))
        }
        Some((codec, _)) => (Some(*codec), body.to_vec()),
        None => (None, body.to_vec()),
    };
    let upstream = upstream(&body, split);
    let ports = FakePorts::new(Upstream::Refused);
    let ends = Arc::new(AtomicUsize::new(0));
    let outcome = Arc::new(std::sync::Mutex::new(StreamOutcome::default()));
    let on_done = {
        let (ends, outcome) = (ends.clone(), outcome.clone());
        OnDone::new(move |o| {
            ends.fetch_add(1, Ordering::Relaxed);
            *outcome.lock().unwrap() = o;
        })
    };
    let idle = 30_000;
    let (client, out) = match (k, codec) {
        (0, _) => {
            let relay = openai_relay::RelayState::new(kind & 0x80 != 0);
            (Client::OpenAi, run(ports, upstream, relay, idle, on_done))
        }
        (1, _) => (
            Client::Anthropic,
            run(
                ports,
                upstream,
                anthropic_relay::RelayState::new(),
                idle,
                on_done,
            ),
        ),
        (_, Some(codec)) => {
            let (_, d) = &deployments()[(k - 2) / 2];
            let ctx = DecodeContext {
                now_ms: 1_784_917_423_000,
                model: &d.upstream_model,
                id_prefix: if k.is_multiple_of(2) {
                    "chatcmpl-"
                } else {
                    "msg_"
                },
            };
            let Ok(decoder) = StreamDecoder::new(codec, &ctx) else {
                return;
            };
            if k.is_multiple_of(2) {
                let renderer = ChunkRenderer::new(true).with_fallback("fuzz-model", 1);
                let state = TranslateState::new(decoder, renderer);
                (Client::OpenAi, run(ports, upstream, state, idle, on_done))
            } else {
                let state = TranslateState::new(decoder, EventRenderer::new("fuzz-model"));
                (
                    Client::Anthropic,
                    run(ports, upstream, state, idle, on_done),
                )
            }
        }
        _ => unreachable!(),
    };
    assert_eq!(
        ends.load(Ordering::Relaxed),
        1,
        "on_done fired other than once"
    );
    let outcome = outcome.lock().unwrap().clone();
    assert!(!outcome.client_gone, "the client read to the end");
    assert!(
        !(outcome.completed && outcome.error.is_some()),
        "completed with an error: {outcome:?}"
    );
    check_client_stream(client == Client::Anthropic, &out);
});

fn upstream(body: &[u8], split: u8) -> ByteStream {
    let mut items: Vec<Result<Bytes, TransportError>> = pieces(body, split & 0x3f)
        .into_iter()
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .collect();
    if split & 0x40 != 0 {
        items.push(Err(TransportError::Interrupted("cut by the fuzzer".into())));
    }
    Box::pin(futures::stream::iter(items))
}

fn run<R: Relay + Send + 'static>(
    ports: FakePorts,
    upstream: ByteStream,
    relay: R,
    idle_ms: u64,
    on_done: OnDone,
) -> Vec<u8> {
    dx_fuzz::read_all(drive(ports, upstream, relay, idle_ms, on_done))
}

//! Every message type on the wire, decoded from the same hostile payload:
//! what either side of a connection can be sent.
//!
//! Properties: nothing panics; whatever decodes re-encodes (within one
//! frame) and decodes back to a value with the same encoding. Values are
//! compared by their encoding, not `==`: a float field may carry NaN, which
//! is unequal to itself yet round-trips bit for bit.
//!
//! `client/proto/tests/fuzz_regressions.rs` holds the same property as a
//! test, with every input this target ever crashed on.

#![no_main]

use std::fmt::Debug;

use hallq_proto::codec;
use hallq_proto::wire::{
    DisplayUpdate, Hello, NotifierFrame, NotifierMessage, Request, Response,
};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: Serialize + DeserializeOwned + Debug>(payload: &[u8]) {
    let Ok(value) = codec::decode::<T>(payload) else {
        return;
    };
    let frame = codec::encode(&value).expect("a decoded message re-encodes");
    assert!(
        frame.len() - 4 <= payload.len(),
        "re-encoding grew the message"
    );
    let again: T = codec::decode(&frame[4..]).expect("a re-encoded message decodes");
    let frame_again = codec::encode(&again).expect("a decoded message re-encodes");
    assert_eq!(frame_again, frame, "round trip changed {value:?}");
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Hello>(data);
    round_trip::<Request>(data);
    round_trip::<Response>(data);
    round_trip::<NotifierMessage>(data);
    round_trip::<NotifierFrame>(data);
    round_trip::<DisplayUpdate>(data);
});

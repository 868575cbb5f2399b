//! Every message type on the wire, decoded from the same hostile payload:
//! what either side of a connection can be sent.
//!
//! Properties: nothing panics; whatever decodes re-encodes (within one
//! frame) and decodes back to the same value.

#![no_main]

use std::fmt::Debug;

use hallq_proto::codec;
use hallq_proto::wire::{
    DisplayUpdate, Hello, NotifierFrame, NotifierMessage, Request, Response,
};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(payload: &[u8]) {
    let Ok(value) = codec::decode::<T>(payload) else {
        return;
    };
    let frame = codec::encode(&value).expect("a decoded message re-encodes");
    assert!(
        frame.len() - 4 <= payload.len(),
        "re-encoding grew the message"
    );
    let again: T = codec::decode(&frame[4..]).expect("a re-encoded message decodes");
    assert_eq!(again, value);
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Hello>(data);
    round_trip::<Request>(data);
    round_trip::<Response>(data);
    round_trip::<NotifierMessage>(data);
    round_trip::<NotifierFrame>(data);
    round_trip::<DisplayUpdate>(data);
});

//! Inputs the `request` fuzz target once crashed on, kept as tests: every
//! message type must decode them or refuse them cleanly, and what decodes
//! must re-encode within one frame and decode back to a value with the same
//! encoding (the property of `fuzz/fuzz_targets/request.rs`). Values are
//! compared by encoding, not `==`, because a float field may hold NaN.

use std::fmt::Debug;

use hallq_proto::codec;
use hallq_proto::wire::{DisplayUpdate, Hello, NotifierFrame, NotifierMessage, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Whether `payload` decoded as a `T`; panics if the round trip breaks.
fn round_trip<T: Serialize + DeserializeOwned + Debug>(payload: &[u8]) -> bool {
    let Ok(value) = codec::decode::<T>(payload) else {
        return false;
    };
    let frame = codec::encode(&value).expect("a decoded message re-encodes");
    assert!(
        frame.len() - 4 <= payload.len(),
        "re-encoding grew the message"
    );
    let again: T = codec::decode(&frame[4..]).expect("a re-encoded message decodes");
    let frame_again = codec::encode(&again).expect("a decoded message re-encodes");
    assert_eq!(frame_again, frame, "round trip changed {value:?}");
    true
}

/// How many of the message types decoded `payload`.
fn every_type(payload: &[u8]) -> usize {
    [
        round_trip::<Hello>(payload),
        round_trip::<Request>(payload),
        round_trip::<Response>(payload),
        round_trip::<NotifierMessage>(payload),
        round_trip::<NotifierFrame>(payload),
        round_trip::<DisplayUpdate>(payload),
    ]
    .into_iter()
    .filter(|decoded| *decoded)
    .count()
}

/// A `Response::Simulation` whose `window_hours` is NaN (issue 22's
/// report): `==` said the round trip changed it; its bytes did not change.
#[test]
fn a_simulation_report_with_nan_hours_round_trips() {
    let payload = [
        27, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 241, 3, 255, 255, 0,
    ];
    let report: hallq_proto::wire::Response = codec::decode(&payload).expect("decodes");
    assert!(
        format!("{report:?}").contains("window_hours: NaN"),
        "{report:?}"
    );
    assert!(every_type(&payload) >= 1);
}

//! The packed body readers (`kernel::packed::unpack_to_text` for results,
//! `unpack_task_to_json` for submissions), which the coordinator runs on
//! every packed body before anything else:
//! - nothing panics, and no text passes the limit it is given;
//! - every text it gives is a matrix the text reader takes, whose packed
//!   form reads back to the same text (bytes with over-long varints read,
//!   so the input itself need not come back);
//! - every task body it gives is JSON with the texts of A and B;
//! - the packer of product texts (`pack_text`, for clients that read a
//!   product packed), on the input read as text and cut in two anywhere:
//!   nothing panics, and whatever it packs unpacks to that text byte for
//!   byte; every text the reader gives packs.

#![no_main]

use kernel::packed::{pack_i64, pack_text, unpack_task_to_json, unpack_to_text};
use kernel::text::parse_i64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, &[u8])| {
    let (limit, bytes) = input;
    let limit = usize::from(limit);
    let cut = limit % (bytes.len() + 1);
    if let Some(packed) = pack_text([&bytes[..cut], &bytes[cut..]], bytes.len()) {
        let text = unpack_to_text(&packed, usize::MAX).expect("what was packed reads");
        assert_eq!(text, bytes, "the packed text does not come back");
    }
    if let Ok(body) = unpack_task_to_json(bytes, limit) {
        assert!(body.len() <= limit, "{} bytes of task past the limit {limit}", body.len());
        let task: serde_json::Value = serde_json::from_slice(&body).expect("the task body is JSON");
        for name in ["A", "B"] {
            let text = task[name].as_str().expect("A and B are texts");
            parse_i64(text).unwrap_or_else(|e| panic!("{name} {text:?} does not read back: {e}"));
        }
    }
    let Ok(text) = unpack_to_text(bytes, limit) else {
        return;
    };
    assert!(text.len() <= limit, "{} bytes of text past the limit {limit}", text.len());
    let text = std::str::from_utf8(&text).expect("the text is ASCII");
    let matrix = parse_i64(text).unwrap_or_else(|e| panic!("{text:?} does not read back: {e}"));
    let again = unpack_to_text(&pack_i64(&matrix), limit).expect("its own packing reads");
    assert_eq!(again, text.as_bytes());
    let packed = pack_text([text.as_bytes()], text.len()).expect("the kernel's text packs");
    assert_eq!(packed, pack_i64(&matrix));
});

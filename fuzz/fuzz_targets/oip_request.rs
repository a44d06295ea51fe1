//! Open Inference Protocol request bodies (JSON, and the binary tensor extension) on
//! arbitrary bytes, answered by a real student: a prediction or the server's 400 message,
//! never a panic. The first two bytes, when the first is odd, give the JSON header's
//! length (the `inference-header-content-length` header).
#![no_main]

use std::sync::LazyLock;

use distillery_runtime::Student;
use libfuzzer_sys::fuzz_target;

static STUDENT: LazyLock<Student> = LazyLock::new(|| {
    Student::from_bytes(include_bytes!("../../tests/data/export/student.safetensors"))
        .expect("the committed student loads")
});

fuzz_target!(|data: &[u8]| {
    let (split, body) = match data {
        [flag, a, b, body @ ..] if flag & 1 == 1 => {
            (Some(usize::from(u16::from_le_bytes([*a, *b]))), body)
        }
        [_, body @ ..] => (None, body),
        [] => return,
    };
    let _ = distillery_serve::decode_request(&STUDENT, body, split);
});

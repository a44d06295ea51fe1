//! Student artifacts (fp32 and int8 safetensors) on arbitrary bytes: each input is a
//! student or a typed error, never a panic, and a student that loads answers a row of
//! missing values (the server's first request) without one either.
#![no_main]

use distillery_runtime::{Predict, QuantizedStudent, RawValue, Student};
use libfuzzer_sys::fuzz_target;

fn answer(model: &impl Predict) {
    let row = vec![RawValue::Missing; model.encoder().features.len()];
    let _ = model.predict_proba(&[&row[..]]);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(student) = Student::from_bytes(data) {
        answer(&student);
    }
    if let Ok(student) = QuantizedStudent::from_bytes(data) {
        answer(&student);
    }
});

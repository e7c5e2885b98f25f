//! Task inputs come from whoever submitted the job, in any language: decoding answers with the
//! task or an input error, never a panic; what decodes encodes and reads back the same.
#![no_main]

use jobtrace_workflows::task::{decode_input, encode_input};
use jobtrace_workflows::{ExecutionContext, Task, TaskError};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Empty {}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct One {
    scene_id: String,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Many {
    x: i64,
    name: String,
    tiles: Vec<u32>,
    cloud: Option<f64>,
}

macro_rules! task {
    ($($name:ident),*) => {$(
        impl Task for $name {
            fn execute(&self, _: &mut ExecutionContext) -> Result<(), TaskError> {
                Ok(())
            }
        }
    )*};
}
task!(Empty, One, Many);

fn round_trip<T: Task + PartialEq + std::fmt::Debug>(input: &[u8]) {
    if let Ok(task) = decode_input::<T>(input) {
        let encoded = encode_input(&task).expect("a decoded task encodes");
        assert_eq!(decode_input::<T>(&encoded).ok(), Some(task));
    }
}

fuzz_target!(|input: &[u8]| {
    round_trip::<Empty>(input);
    round_trip::<One>(input);
    round_trip::<Many>(input);
});

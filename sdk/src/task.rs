//! Tasks: the `Task` trait, and its input encoding shared with the Python client.

use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, Visitor};

use crate::context::ExecutionContext;
use crate::error::{Error, TaskError};
pub use crate::task_identifier::TaskIdentifier;
use crate::task_identifier::type_display;

/// A unit of work: its fields are its input, [`Task::execute`] its body.
///
/// ```
/// use jobtrace_workflows::{ExecutionContext, Task, TaskError};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Greet { name: String }
/// impl Task for Greet {
///     fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
///         ctx.logger().info(&format!("hello {}", self.name));
///         Ok(())
///     }
/// }
/// assert_eq!(Greet::identifier().name, "Greet");
/// ```
pub trait Task: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Name and version runners match on. Defaults to the type's name (no module path) and
    /// `v0.0`, like a Python task class; override to keep the name when the type is renamed.
    fn identifier() -> TaskIdentifier
    where
        Self: Sized,
    {
        TaskIdentifier::new(type_display::<Self>(), "v0.0")
    }

    /// Runs the task. Subtasks submitted on `ctx` are queued when this returns `Ok`.
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError>;
}

// The Python client encodes a task's fields as JSON: nothing for a task without fields, the bare
// value for a task with one field, an object for several. Serde cannot say how many fields a type
// has without a value, so `struct_fields` asks the type's `Deserialize` implementation which
// field names it expects.

/// Encodes a task's input as the Python client does.
pub fn encode_input<T: Task>(task: &T) -> Result<Vec<u8>, Error> {
    let input_error = |source| Error::Input {
        task: type_display::<T>(),
        source,
    };
    let value = serde_json::to_value(task).map_err(input_error)?;
    let encoded = match (struct_fields::<T>(), value) {
        // No fields (`struct A {}` or `struct A;`): nothing, as Python sends for a field-less task.
        (Some([]), _) | (None, serde_json::Value::Null) => Vec::new(),
        (Some(fields), serde_json::Value::Object(mut map)) if fields.len() == 1 => {
            let single = map.remove(fields[0]).unwrap_or(serde_json::Value::Null);
            serde_json::to_vec(&single).map_err(input_error)?
        }
        // Straight from the value, not the `Value` map: keys keep the field order, as in Python.
        _ => serde_json::to_vec(task).map_err(input_error)?,
    };
    Ok(encoded)
}

/// Decodes a task's input written by [`encode_input`] or by the Python client.
pub fn decode_input<T: Task>(input: &[u8]) -> Result<T, Error> {
    let input_error = |source| Error::Input {
        task: type_display::<T>(),
        source,
    };
    match struct_fields::<T>() {
        Some([]) => serde_json::from_str::<T>("{}")
            .or_else(|_| serde_json::from_str::<T>("null"))
            .map_err(input_error),
        Some(fields) if fields.len() == 1 => {
            let value: serde_json::Value = if input.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(input).map_err(input_error)?
            };
            let mut object = serde_json::Map::new();
            object.insert(fields[0].to_owned(), value);
            serde_json::from_value(serde_json::Value::Object(object)).map_err(input_error)
        }
        _ if input.is_empty() => serde_json::from_str::<T>("null")
            .or_else(|_| serde_json::from_str::<T>("{}"))
            .map_err(input_error),
        _ => serde_json::from_slice(input).map_err(input_error),
    }
}

/// The field names a struct's `Deserialize` expects, or `None` for anything but a struct with
/// named fields (enums, tuples, maps: encoded as plain JSON).
pub(crate) fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that records the field list of `deserialize_struct` and fails every call.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field introspection")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A task type erased for the runner's registry: decodes its input and runs it.
pub(crate) struct Registered {
    pub identifier: TaskIdentifier,
    /// The type's short name: `task/<name>` is the span of each attempt.
    pub display: String,
    pub run: fn(&[u8], &mut ExecutionContext) -> Result<(), TaskError>,
}

impl Registered {
    pub fn of<T: Task>() -> Self {
        Registered {
            identifier: T::identifier(),
            display: type_display::<T>(),
            run: |input, ctx| {
                let task: T = decode_input(input).map_err(TaskError::from)?;
                task.execute(ctx)
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Empty {}

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Unit;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct One {
        scene_id: String,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Two {
        x: i64,
        name: String,
    }

    macro_rules! noop_task {
        ($($t:ty),*) => {$(
            impl Task for $t {
                fn execute(&self, _: &mut ExecutionContext) -> Result<(), TaskError> {
                    Ok(())
                }
            }
        )*};
    }
    noop_task!(Empty, Unit, One, Two);

    #[test]
    fn test_input_encoding_matches_python_client() {
        assert_eq!(encode_input(&Empty {}).unwrap(), b"");
        assert_eq!(encode_input(&Unit).unwrap(), b"");
        let one = One {
            scene_id: "S2A_1".to_owned(),
        };
        assert_eq!(encode_input(&one).unwrap(), br#""S2A_1""#);
        let two = Two {
            x: 1,
            name: "a".to_owned(),
        };
        assert_eq!(encode_input(&two).unwrap(), br#"{"x":1,"name":"a"}"#);
    }

    #[test]
    fn test_input_decoding_reads_python_encodings() {
        assert_eq!(decode_input::<Empty>(b"").unwrap(), Empty {});
        assert_eq!(decode_input::<Unit>(b"").unwrap(), Unit);
        assert_eq!(
            decode_input::<One>(br#""S2A_1""#).unwrap().scene_id,
            "S2A_1"
        );
        // Unknown keys are ignored, like msgspec does.
        let two: Two = decode_input(br#"{"name":"a","x":1,"extra":true}"#).unwrap();
        assert_eq!(
            two,
            Two {
                x: 1,
                name: "a".to_owned()
            }
        );
        let wrong = decode_input::<Two>(br#"{"x":"1","name":"a"}"#);
        assert!(matches!(wrong, Err(Error::Input { .. })), "{wrong:?}");
    }

    #[test]
    fn test_default_identifier_is_type_name_v0_0() {
        assert_eq!(One::identifier(), TaskIdentifier::new("One", "v0.0"));
        assert!(One::identifier().validate().is_ok());
        assert!(TaskIdentifier::new("x", "1.0").validate().is_err());
        assert!(TaskIdentifier::new("", "v1.0").validate().is_err());
        assert!(TaskIdentifier::new("x", "v1.x").validate().is_err());
    }

    proptest::proptest! {
        /// Inputs come from whoever submitted the job (any language, any bytes): decoding
        /// answers with the task or an input error, never a panic, and what the SDK encodes it
        /// reads back.
        #[test]
        fn test_any_input_decodes_or_is_an_input_error(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode_input::<Empty>(&bytes);
            let _ = decode_input::<One>(&bytes);
            let _ = decode_input::<Two>(&bytes);
        }

        #[test]
        fn test_encoded_inputs_read_back(x in proptest::prelude::any::<i64>(), name in ".{0,16}") {
            let two = Two { x, name: name.clone() };
            proptest::prop_assert_eq!(decode_input::<Two>(&encode_input(&two).unwrap()).unwrap(), two);
            let one = One { scene_id: name };
            let back = decode_input::<One>(&encode_input(&one).unwrap()).unwrap();
            proptest::prop_assert_eq!(back.scene_id, one.scene_id);
        }
    }
}

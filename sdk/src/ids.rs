//! Ids on the wire: a [`uuid::Uuid`] as the protocol's `tilebox.v1.ID` and back.

use crate::error::Error;
use crate::proto::tilebox::v1 as tb;

pub(crate) fn id_proto(id: uuid::Uuid) -> tb::Id {
    tb::Id {
        uuid: id.as_bytes().to_vec(),
    }
}

pub(crate) fn uuid_of(id: &tb::Id) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::from_slice(&id.uuid)
        .map_err(|_| Error::Protocol(format!("an id of {} bytes", id.uuid.len())))
}

pub(crate) fn id_of(id: Option<&tb::Id>) -> Result<uuid::Uuid, Error> {
    id.map_or_else(|| Err(Error::Protocol("a missing id".to_owned())), uuid_of)
}

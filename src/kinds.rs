//! The closed sets of names that flow files and the compiled program
//! share: answer picks, media kinds, input types and HTTP methods. They sit
//! below both the syntax tree and the program, so the runtime reads them
//! without reaching into the AST.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pick {
    Random,
    Sequence,
    First,
}

impl Pick {
    pub const ALL: [(&'static str, Pick); 3] = [
        ("random", Pick::Random),
        ("sequence", Pick::Sequence),
        ("first", Pick::First),
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Pick::Random => "random",
            Pick::Sequence => "sequence",
            Pick::First => "first",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    File,
}

impl MediaKind {
    pub const ALL: [(&'static str, MediaKind); 4] = [
        ("image", MediaKind::Image),
        ("audio", MediaKind::Audio),
        ("video", MediaKind::Video),
        ("file", MediaKind::File),
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::File => "file",
        }
    }
}

/// The input types an `input` cell accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    Text,
    Number,
    Integer,
    Boolean,
    Email,
    Phone,
    Date,
    Options,
    Pattern,
}

impl InputType {
    pub const ALL: [(&'static str, InputType); 9] = [
        ("text", InputType::Text),
        ("number", InputType::Number),
        ("integer", InputType::Integer),
        ("boolean", InputType::Boolean),
        ("email", InputType::Email),
        ("phone", InputType::Phone),
        ("date", InputType::Date),
        ("options", InputType::Options),
        ("pattern", InputType::Pattern),
    ];

    #[must_use]
    pub fn parse(name: &str) -> Option<InputType> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("text", |(n, _)| n)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const ALL: [(&'static str, Method); 5] = [
        ("GET", Method::Get),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("PATCH", Method::Patch),
        ("DELETE", Method::Delete),
    ];

    #[must_use]
    pub fn parse(s: &str) -> Option<Method> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, m)| *m)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("GET", |(n, _)| n)
    }
}

//! Typed indexes into a [`Program`](super::Program): a cell index cannot be
//! used where a flow's is meant. Each is a `u32` on the wire (sessions store
//! cell indexes), made only by its checked constructor.

use serde::{Deserialize, Serialize};

macro_rules! index {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(u32);

        impl $name {
            /// The index of the `position`th one.
            ///
            /// # Panics
            /// At `u32::MAX` or more (a bot's files cannot hold that many;
            /// `u32::MAX` is kept free for sessions, which store "no cell"
            /// as it).
            #[must_use]
            pub fn new(position: usize) -> $name {
                match u32::try_from(position) {
                    Ok(n) if n != u32::MAX => $name(n),
                    _ => panic!(concat!("a program has fewer than 2^32 - 1 ", $what)),
                }
            }

            /// The position, for indexing the program's list.
            #[must_use]
            pub fn position(self) -> usize {
                self.0 as usize
            }

            /// The number, as sessions and reports write it.
            #[must_use]
            pub fn number(self) -> u32 {
                self.0
            }

            /// The index a stored number names, if it can name one (a
            /// session read back may hold anything; the program then says
            /// whether it has that cell).
            #[must_use]
            pub fn from_number(number: u32) -> Option<$name> {
                (number != u32::MAX).then_some($name(number))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

index!(
    /// A cell of the program ([`Program::cells`](super::Program::cells)).
    CellIndex,
    "cells"
);
index!(
    /// A flow of the program ([`Program::flows`](super::Program::flows)).
    FlowIndex,
    "flows"
);
index!(
    /// An intent of the program ([`Program::intents`](super::Program::intents)).
    IntentIndex,
    "intents"
);
index!(
    /// An entity of the program ([`Program::entities`](super::Program::entities)).
    EntityIndex,
    "entities"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_its_number_on_the_wire_and_leaves_the_marker_free() {
        let cell = CellIndex::new(7);
        assert_eq!(serde_json::to_string(&cell).unwrap(), "7");
        assert_eq!(serde_json::from_str::<CellIndex>("7").unwrap(), cell);
        assert_eq!(cell.position(), 7);
        assert_eq!(CellIndex::from_number(u32::MAX), None);
        assert!(std::panic::catch_unwind(|| CellIndex::new(u32::MAX as usize)).is_err());
    }
}

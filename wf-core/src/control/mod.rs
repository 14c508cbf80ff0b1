//! Tasks that shape a flow rather than do work: empty, dynamic, module,
//! repeater.

mod dynamic;
mod empty;
mod module;
mod repeater;

pub use dynamic::{Dynamic, DynamicTask, create_dynamic_task};
pub use empty::{Empty, EmptyTask, create_empty_task};
pub use module::{Module, ModuleTask, create_module_task};
pub use repeater::{Repeater, RepeaterTask, create_repeater_task};

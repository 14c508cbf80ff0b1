//! The client side: the client half of a protocol, the options of a task,
//! the task, and the machine every client task runs. What is sent again
//! when a connection fails (and what never is) is written down in
//! [`ClientProtocol`]'s "Retry rules".

mod datagram;
mod machine;
mod options;
pub(crate) mod pipe;
pub(crate) mod pool;
mod protocol;
mod setup;
mod task;

pub use options::ClientOptions;
pub use protocol::{ClientProtocol, Mode, Next};
pub use task::{Client, ClientKind, ClientTask, create_client_task, request};

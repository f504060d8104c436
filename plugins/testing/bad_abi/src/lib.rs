//! Test-only library that claims a plugin ABI version this viewer does not
//! speak; loading it must be refused before anything else is called.

#![allow(unsafe_code)] // A hand-written ABI table: this crate exists to break the ABI on purpose.

use periscope_plugin_api::{HostTable, MessageC, OwnedBuf, PluginTable, Slice, Status};

unsafe extern "C" fn init(_: *const HostTable, _: Slice, _: *mut *mut std::ffi::c_void, _: *mut OwnedBuf) -> Status {
    panic!("init must never be called on an ABI mismatch")
}
unsafe extern "C" fn process(
    _: *mut std::ffi::c_void,
    _: *const HostTable,
    _: *const MessageC,
    _: *mut OwnedBuf,
) -> Status {
    Status::Continue
}
unsafe extern "C" fn shutdown(_: *mut std::ffi::c_void) {}
unsafe extern "C" fn free_buf(_: OwnedBuf) {}

const NAME: &str = "bad_abi";

/// Claims ABI version 1: a plugin built before ABI 2, which this viewer refuses.
#[unsafe(no_mangle)]
pub extern "C" fn periscope_plugin() -> *const PluginTable {
    static TABLE: PluginTable = PluginTable {
        abi_version: 1,
        name: Slice { ptr: NAME.as_ptr(), len: NAME.len() },
        version: Slice { ptr: NAME.as_ptr(), len: NAME.len() },
        init,
        process_message: process,
        shutdown,
        free_buf,
    };
    &TABLE
}

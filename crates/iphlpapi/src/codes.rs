//! Win32 error codes returned by the IP Helper calls (`winerror.h`).

/// `NO_ERROR`: success.
pub const NO_ERROR: u32 = 0;
/// `ERROR_ACCESS_DENIED`.
pub const ERROR_ACCESS_DENIED: u32 = 5;
/// `ERROR_NOT_SUPPORTED`.
pub const ERROR_NOT_SUPPORTED: u32 = 50;
/// `ERROR_NETWORK_ACCESS_DENIED`.
pub const ERROR_NETWORK_ACCESS_DENIED: u32 = 65;
/// `ERROR_INVALID_PARAMETER`.
pub const ERROR_INVALID_PARAMETER: u32 = 87;
/// `ERROR_INSUFFICIENT_BUFFER`.
pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
/// `ERROR_MR_MID_NOT_FOUND`: what SetTcpEntry returns when no connection
/// matches, and when the caller is not elevated.
pub const ERROR_MR_MID_NOT_FOUND: u32 = 317;
/// `ERROR_NOT_FOUND`.
pub const ERROR_NOT_FOUND: u32 = 1168;
/// `ERROR_GEN_FAILURE`: a device attached to the system is not functioning.
pub const ERROR_GEN_FAILURE: u32 = 31;

//! Wire types shared by the server and the viewer.

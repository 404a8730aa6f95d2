//! Expectation files: checked-in expected outcomes of cells that do not pass.
//! (Being written: see the module's owner.)

import CHDF5
func _h5linkCheck() -> Int32 { H5open() }

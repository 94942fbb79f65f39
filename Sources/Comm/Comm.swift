import CMPI
func _mpiLinkCheck() -> Int32 { MPI_Initialized(nil) }

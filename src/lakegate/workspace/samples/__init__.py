"""The samples catalog: samples.tpch (the eight TPC-H tables) and samples.nyctaxi.trips."""

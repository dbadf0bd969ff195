"""The core types every other folder builds on, with no torch: typed frozen configs and stage specs with stable
hashes (:mod:`.config`, :mod:`.specs`), the one validator (:mod:`.options`), typed stage records (:mod:`.records`),
one-line user errors (:mod:`.errors`), the paper's constants (:mod:`.paper`), the method entry points
(:mod:`.plugins`) and logging (:mod:`.log`)."""

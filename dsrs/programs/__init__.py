"""Programs as versioned data in PostgreSQL: deployed immutably, activated at their effective time,
retired; and the catalog every worker decides and pays with, which follows activations without a restart."""

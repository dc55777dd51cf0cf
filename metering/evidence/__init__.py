"""Evidence files: uploaded documents (lab reports, ledgers, certificates) linked to the values they support."""

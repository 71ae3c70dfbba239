package steward

// AdminCreate is the body of POST /admin/admins: an operator is a user with
// an operator role. A missing password leaves the account without one until
// it is set (PATCH password, `steward operator reset-password`) or the
// operator signs in through a trusted identity provider.
type AdminCreate struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
	Role     Role   `json:"role"`      // default admin; must be an operator role
	IsActive *bool  `json:"is_active"` // default true; false creates the operator suspended
}

// AdminPatch is the body of PATCH /admin/admins/{id}; absent keys keep.
type AdminPatch struct {
	Username Optional[string] `json:"username"` // null clears
	Email    Optional[string] `json:"email"`
	Password Optional[string] `json:"password"`
	Role     Optional[Role]   `json:"role"`
	IsActive Optional[bool]   `json:"is_active"` // false suspends, true unsuspends
}

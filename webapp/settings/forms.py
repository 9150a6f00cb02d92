from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..orders.intake import check_tax_id


class MerchantForm(FlaskForm):
    company_name = StringField(_l("Nazwa firmy (sprzedawca)"),
                               validators=[DataRequired(_l("Podaj nazwę firmy.")), Length(max=300)])
    tax_id = StringField(_l("NIP"), validators=[DataRequired(_l("Podaj NIP.")), Length(max=20)])
    street = StringField(_l("Ulica i numer"), validators=[DataRequired(_l("Podaj adres.")), Length(max=200)])
    post_code = StringField(_l("Kod pocztowy"),
                            validators=[DataRequired(_l("Podaj kod pocztowy.")), Length(max=20)])
    city = StringField(_l("Miejscowość"),
                       validators=[DataRequired(_l("Podaj miejscowość.")), Length(max=100)])
    country = StringField(_l("Kraj (kod ISO)"), default="PL",
                          validators=[DataRequired(), Length(min=2, max=2)])
    bank_account = StringField(_l("Rachunek bankowy"), validators=[Optional(), Length(max=64)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Telefon"), validators=[Optional(), Length(max=50)])
    place_of_issue = StringField(_l("Miejsce wystawienia"), validators=[Optional(), Length(max=100)])
    logo = FileField(_l("Logo (PNG lub JPEG, do 500 kB)"),
                     validators=[FileAllowed(["png", "jpg", "jpeg"], _l("Logo musi być plikiem PNG lub JPEG."))])

    def validate_tax_id(self, field):
        problem = check_tax_id(field.data or "", (self.country.data or "PL").upper())
        if problem:
            raise ValidationError(problem)


class SeriesForm(FlaskForm):
    name = StringField(_l("Nazwa"), validators=[DataRequired(_l("Podaj nazwę serii.")), Length(max=100)])
    kind = SelectField(_l("Rodzaj"), choices=[("invoice", _l("Faktura")), ("receipt", _l("Paragon")),
                                              ("correction", _l("Korekta"))])
    format = StringField(_l("Format numeru"), default="FV/{nr}/{MM}/{YYYY}",
                         validators=[DataRequired(_l("Podaj format.")), Length(max=100)])
    reset = SelectField(_l("Numeracja od nowa"), choices=[("monthly", _l("co miesiąc")), ("yearly", _l("co rok")),
                                                          ("never", _l("nigdy"))])
    payment_days = IntegerField(_l("Termin płatności (dni)"), default=7,
                                validators=[NumberRange(0, 365, _l("Od 0 do 365 dni."))])
    hide_payment_date = BooleanField(_l("Nie wyświetlaj terminu płatności"))
    is_default = BooleanField(_l("Domyślna seria dla tego rodzaju"))


class StatusForm(FlaskForm):
    name = StringField(_l("Nazwa statusu"), validators=[DataRequired(_l("Podaj nazwę.")), Length(max=60)])


class TokenForm(FlaskForm):
    name = StringField(_l("Nazwa tokenu (np. sklep)"),
                       validators=[DataRequired(_l("Podaj nazwę.")), Length(max=100)])
